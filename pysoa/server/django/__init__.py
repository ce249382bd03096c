"""Django support for servers with `use_django = True`: settings from Django, per-job database and cache hygiene."""
