"""Per resource, what its routers share: the models (bodies and answers), the SQL and the queries.

`app/resources/<resource>.py` sits beside `app/routes/<resource>.py`. A router imports resources,
never another router (tests/test_layering.py), so what two routers need lives here.
"""
