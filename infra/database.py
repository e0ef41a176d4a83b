"""The database box: RDS PostgreSQL in the private subnets, its secrets and parameters, and the
RDS Proxy in front of it that the API function reaches it through."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.policy_documents import assume_role_policy

DB_NAME = "miyabi"
MASTER_USER = "miyabi_admin"
APP_USER = "miyabi_app"
_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
# RDS Proxy refuses startup options, so the API's session settings come from the proxy: every
# database connection it opens runs this first (app/main.py leaves `options` out behind it).
PROXY_INIT_QUERY = "SET timezone TO 'UTC'"


@dataclass
class DatabaseArgs:
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_class: str
    allocated_storage_gb: int
    multi_az: bool
    engine_version: str
    backup_retention_days: int
    deletion_protection: bool
    final_snapshot: bool
    performance_insights: bool
    monitoring_interval_seconds: int
    proxy_security_group_id: pulumi.Input[str]
    # The share of the database's max_connections the proxy may open (the connection budget).
    proxy_max_connections_percent: int
    # Statements slower than this are logged (0 logs every statement); the log goes to CloudWatch.
    slow_statement_ms: int = 500


class Database(pulumi.ComponentResource):
    """An encrypted, private PostgreSQL with TLS forced and its master secret managed by RDS."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnet_group = aws.rds.SubnetGroup(name, subnet_ids=args.subnet_ids, opts=child)
        major = args.engine_version.split(".")[0]
        parameters = aws.rds.ParameterGroup(
            name, family=f"postgres{major}",
            parameters=[
                {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"},
                {"name": "log_min_duration_statement", "value": str(args.slow_statement_ms),
                 "apply_method": "immediate"},
            ],
            opts=child,
        )
        self.instance = aws.rds.Instance(
            name,
            engine="postgres", engine_version=args.engine_version,
            # A new major in the config upgrades in place, with the new family's parameter group
            # (runbooks/rds-operations.md: snapshot first, in a maintenance window).
            allow_major_version_upgrade=True,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb, storage_type="gp3",
            storage_encrypted=True, multi_az=args.multi_az,
            db_name=DB_NAME, username=MASTER_USER, manage_master_user_password=True,
            db_subnet_group_name=subnet_group.name, vpc_security_group_ids=[args.security_group_id],
            parameter_group_name=parameters.name, publicly_accessible=False,
            backup_retention_period=args.backup_retention_days,
            backup_window="02:00-03:00", maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True, auto_minor_version_upgrade=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=f"{name}-final" if args.final_snapshot else None,
            # PostgreSQL's log (slow statements, errors) in CloudWatch Logs: `invoke logs --db`.
            enabled_cloudwatch_logs_exports=["postgresql"],
            performance_insights_enabled=args.performance_insights,
            performance_insights_retention_period=7 if args.performance_insights else None,
            **self._monitoring(name, args.monitoring_interval_seconds),
            opts=child,
        )
        self.master_secret_arn = self.instance.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.app_secret = self._app_secret(name)
        self.proxy = self._proxy(name, args)
        self.register_outputs({
            "endpoint": self.instance.endpoint,
            "proxy_endpoint": self.proxy.endpoint,
            "master_secret_arn": self.master_secret_arn,
            "app_secret_arn": self.app_secret.arn,
        })

    def _monitoring(self, name: str, interval: int) -> dict[str, pulumi.Input]:
        if interval == 0:
            return {"monitoring_interval": 0}
        role = aws.iam.Role(
            f"{name}-monitoring", assume_role_policy=assume_role_policy("monitoring.rds.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-monitoring", role=role.name, policy_arn=_MONITORING_POLICY,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return {"monitoring_interval": interval, "monitoring_role_arn": role.arn}

    def _app_secret(self, name: str) -> aws.secretsmanager.Secret:
        """The application role's credentials; the migrate entry point creates the role."""
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            f"{name}-app", description="Miyabi application role (no superuser, no BYPASSRLS)",
            opts=child,
        )
        password = aws.secretsmanager.get_random_password_output(
            password_length=40, exclude_punctuation=True, opts=pulumi.InvokeOptions(parent=self)
        ).random_password
        value = pulumi.Output.json_dumps({
            "username": APP_USER, "password": pulumi.Output.secret(password),
            "host": self.instance.address, "port": self.instance.port, "dbname": DB_NAME,
        })
        aws.secretsmanager.SecretVersion(
            f"{name}-app", secret_id=secret.id, secret_string=value,
            # The generator answers differently on every run; the first value must stay.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )
        return secret

    def _proxy(self, name: str, args: DatabaseArgs) -> aws.rds.Proxy:
        """RDS Proxy for the API: TLS from the client, the app role's secret, private subnets."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-proxy", assume_role_policy=assume_role_policy("rds.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-proxy", role=role.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [self.app_secret.arn],
            }]}),
            opts=child,
        )
        proxy = aws.rds.Proxy(
            name, name=name, engine_family="POSTGRESQL", role_arn=role.arn, require_tls=True,
            vpc_subnet_ids=args.subnet_ids, vpc_security_group_ids=[args.proxy_security_group_id],
            auths=[{"auth_scheme": "SECRETS", "secret_arn": self.app_secret.arn,
                    "iam_auth": "DISABLED", "client_password_auth_type": "POSTGRES_SCRAM_SHA_256"}],
            # Longer than a long poll's wait and a Lambda instance's idle life between requests.
            idle_client_timeout=1800, debug_logging=False, opts=child,
        )
        group = aws.rds.ProxyDefaultTargetGroup(
            name, db_proxy_name=proxy.name,
            connection_pool_config={
                "max_connections_percent": args.proxy_max_connections_percent,
                "max_idle_connections_percent": max(1, args.proxy_max_connections_percent // 2),
                "connection_borrow_timeout": 10,
                "init_query": PROXY_INIT_QUERY,
            },
            opts=child,
        )
        aws.rds.ProxyTarget(
            name, db_proxy_name=proxy.name, target_group_name=group.name,
            db_instance_identifier=self.instance.identifier, opts=child,
        )
        return proxy
