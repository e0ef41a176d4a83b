"""The dashboard on an AWS stack against moto: per-release prefix, origin switch, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.dashboard.files import dashboard_digest
from ops.pipeline.aws import dashboard as frontend
from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.target import AwsTarget
from tests.ops.test_aws_steps import REGION, _function


def _distribution(session) -> str:  # noqa: ANN001
    """A distribution shaped like infra/frontend.py's: the S3 origin `dashboard`, and `api`."""
    session.client("s3").create_bucket(Bucket="dash",
                                       CreateBucketConfiguration={"LocationConstraint": REGION})
    made = session.client("cloudfront").create_distribution(DistributionConfig={
        "CallerReference": "t", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 2, "Items": [
            {"Id": "api", "DomainName": "api.example.com",
             "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}},
            {"Id": "dashboard", "DomainName": "dash.s3.eu-west-1.amazonaws.com",
             "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "dashboard", "ViewerProtocolPolicy": "redirect-to-https",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                                                  "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}}})
    return made["Distribution"]["Id"]


def _dashboard(root: Path, title: str) -> Path:
    folder = root / "dashboard"
    (folder / "src").mkdir(parents=True)
    (folder / "index.html").write_text(f"<title>{title}</title><script type=module src=/src/main.js>")
    (folder / "src" / "main.js").write_text(f"console.log('{title}')")
    (folder / "app.css").write_text("body{}")
    (folder / "VENDOR.md").write_text("kept in the repository, never shipped")
    (folder / ".hidden.js").write_text("never shipped")
    return folder


def _origins(session, distribution: str) -> dict:  # noqa: ANN001
    config = session.client("cloudfront").get_distribution_config(Id=distribution)["DistributionConfig"]
    return {o["Id"]: o.get("OriginPath") or "" for o in config["Origins"]["Items"]}


def test_publish_uploads_under_the_release_prefix_with_types_and_cache(session, tmp_path: Path) -> None:  # noqa: ANN001
    distribution, folder = _distribution(session), _dashboard(tmp_path, "one")
    s3, cloudfront = session.client("s3"), session.client("cloudfront")
    made = frontend.publish(s3, cloudfront, folder, "dash", distribution)
    path = made["dashboard_origin_path"]
    assert made["dashboard"] == dashboard_digest(folder)
    assert path == f"/releases/{made['dashboard'][:20]}"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="dash")["Contents"]}
    prefix = path.strip("/")
    assert keys == {f"{prefix}/index.html", f"{prefix}/src/main.js", f"{prefix}/app.css"}
    heads = {key.removeprefix(prefix + "/"): s3.head_object(Bucket="dash", Key=key) for key in keys}
    assert heads["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert heads["index.html"]["CacheControl"] == "no-cache"
    assert heads["src/main.js"]["ContentType"] == "text/javascript; charset=utf-8"
    assert heads["app.css"]["ContentType"] == "text/css; charset=utf-8"
    assert heads["src/main.js"]["CacheControl"] == heads["app.css"]["CacheControl"] == "public, max-age=300"
    assert _origins(session, distribution) == {"dashboard": path, "api": ""}
    assert made["dashboard_origin_before"] == ""
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    assert [i["Id"] for i in listed] == [made["invalidation"]]


def test_a_new_release_gets_a_new_prefix_and_the_old_one_stays(session, tmp_path: Path) -> None:  # noqa: ANN001
    distribution = _distribution(session)
    s3, cloudfront = session.client("s3"), session.client("cloudfront")
    first = frontend.publish(s3, cloudfront, _dashboard(tmp_path / "a", "one"), "dash", distribution)
    second = frontend.publish(s3, cloudfront, _dashboard(tmp_path / "b", "two"), "dash", distribution)
    assert first["dashboard_origin_path"] != second["dashboard_origin_path"]
    assert second["dashboard_origin_before"] == first["dashboard_origin_path"]
    old = s3.get_object(Bucket="dash", Key=first["dashboard_origin_path"].strip("/") + "/index.html")
    assert old["Body"].read() == b"<title>one</title><script type=module src=/src/main.js>"
    assert _origins(session, distribution)["dashboard"] == second["dashboard_origin_path"]


def test_a_folder_without_index_is_refused_before_anything_moves(session, tmp_path: Path) -> None:  # noqa: ANN001
    distribution = _distribution(session)
    with pytest.raises(FileNotFoundError, match="index.html"):
        frontend.publish(session.client("s3"), session.client("cloudfront"), tmp_path, "dash", distribution)
    assert session.client("s3").list_objects_v2(Bucket="dash").get("KeyCount") == 0
    assert _origins(session, distribution)["dashboard"] == ""


def _stack(session, tmp_path: Path, distribution: str) -> AwsTarget:  # noqa: ANN001
    session.client("s3").create_bucket(Bucket="journal",
                                       CreateBucketConfiguration={"LocationConstraint": REGION})
    outputs = {"function_name": "miyabi-api", "journal_bucket": "journal", "api_url": "https://x",
               "dashboard_bucket": "dash", "distribution_id": distribution}
    return AwsTarget("dev", {"MIYABI_HOME": str(tmp_path / "home")}, outputs=lambda: outputs,
                     session=session, check=False, root=tmp_path)


def test_deploy_step_journals_the_dashboard_and_rollback_points_back(session, tmp_path: Path) -> None:  # noqa: ANN001
    first, second = _function(session)
    distribution = _distribution(session)
    stack = _stack(session, tmp_path, distribution)
    _dashboard(tmp_path, "one")
    one = stack._dashboard({})
    stack.journal.finish_run(stack.journal.start_run("deploy", {"lambda_version": first}), "deploy",
                             "succeeded", {"lambda_version": first, **one})
    (tmp_path / "dashboard" / "src" / "main.js").write_text("console.log('two')")
    aws.move_alias(session.client("lambda"), "miyabi-api", second)
    two = stack._dashboard({})
    stack.journal.finish_run(stack.journal.start_run("deploy", {"lambda_version": second}), "deploy",
                             "succeeded", {"lambda_version": second, **two})
    assert _origins(session, distribution)["dashboard"] == two["dashboard_origin_path"]
    assert two["dashboard"] == dashboard_digest(tmp_path / "dashboard") != one["dashboard"]

    stack._schema = lambda context: {}  # the migrate entry point needs a real VPC Lambda
    done = stack.rollback()
    assert aws.live_version(session.client("lambda"), "miyabi-api") == first
    assert _origins(session, distribution)["dashboard"] == one["dashboard_origin_path"]
    last = stack.journal.runs()[-1]
    assert (last.command, last.outcome) == ("rollback", "succeeded")
    assert last.context["dashboard"] == one["dashboard"]
    assert last.context["dashboard_origin_path"] == one["dashboard_origin_path"]
    invalidations = session.client("cloudfront").list_invalidations(DistributionId=distribution)
    assert done["invalidation"] in [i["Id"] for i in invalidations["InvalidationList"]["Items"]]


def test_a_failed_deploy_points_the_dashboard_back(session, tmp_path: Path) -> None:  # noqa: ANN001
    distribution = _distribution(session)
    stack = _stack(session, tmp_path, distribution)
    _dashboard(tmp_path, "one")
    stack._dashboard({})
    (tmp_path / "dashboard" / "app.css").write_text("body{color:red}")
    context = dict(stack._dashboard({}))
    assert _origins(session, distribution)["dashboard"] == context["dashboard_origin_path"]
    stack._undashboard(context)  # what execute() does when verify fails after the switch
    assert _origins(session, distribution)["dashboard"] == context["dashboard_origin_before"] != ""


def test_a_release_without_a_recorded_dashboard_leaves_it_alone(session, tmp_path: Path) -> None:  # noqa: ANN001
    distribution = _distribution(session)
    stack = _stack(session, tmp_path, distribution)
    _dashboard(tmp_path, "one")
    live = stack._dashboard({})["dashboard_origin_path"]
    assert stack._dashboard_back({"dashboard_origin_path": None}) == {}
    assert _origins(session, distribution)["dashboard"] == live


def test_deploy_runs_the_dashboard_step_with_an_undo() -> None:
    steps = {s.name: s for s in AwsTarget.deploy_steps(AwsTarget.__new__(AwsTarget))}
    names = list(steps)
    assert names.index("migrate") < names.index("dashboard") < names.index("verify")
    assert steps["dashboard"].undo is not None
