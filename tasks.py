"""invoke tasks: `invoke --list` shows them all; each calls one function of a package."""

from invoke import Collection

from ops.tasks import app as app_tasks
from ops.tasks import bot as bot_tasks
from ops.tasks import dashboard as dashboard_tasks
from ops.tasks import db as db_tasks
from ops.tasks import deps as deps_tasks
from ops.tasks import infra as infra_tasks
from ops.tasks import legacy as legacy_tasks
from ops.tasks import pipeline as pipeline_tasks

ns = Collection()
ns.add_task(db_tasks.migrate)
ns.add_collection(db_tasks.ns)
ns.add_collection(dashboard_tasks.ns)
ns.add_collection(deps_tasks.ns)
ns.add_collection(infra_tasks.ns)
ns.add_collection(legacy_tasks.ns)
for _task in (*app_tasks.TOP_LEVEL, *pipeline_tasks.TOP_LEVEL, *bot_tasks.TOP_LEVEL):
    ns.add_task(_task)
