"""`make bench`: seed a PostgreSQL database, serve it with gunicorn, load it from a second process.

seed.py fills the database; views.py and urls.py add the "floor" page to the
bench server only; client.py measures; endpoints.py lists what is measured;
journey.py drives whole learner journeys; cpu.py counts CPU per request;
profile.py explains a page's cost; run.py ties them together.
docs/performance.md has the method, a recorded run and what to change.
"""
