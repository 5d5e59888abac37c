"""The FastAPI application: routers per resource, dependencies, error handlers, metrics."""
