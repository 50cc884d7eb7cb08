"""The audit service: durable job queue, worker processes, API tokens and the HTTP application."""
