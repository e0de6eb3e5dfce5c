"""The collective's dashboard: the hub's web pages (Starlette, Jinja2, htmx with server-sent
events), the `web` component of `vendd hub run` when the `hub` extra's web libraries are
installed (else the small status server of `vendd.hub.web` stays)."""
