"""Celery task modules, one per domain; task names are ``domain.verb``."""
