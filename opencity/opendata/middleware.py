"""CORS open for reading the public data: any site may GET /api/, /opendata/ and /ledger/
(never with cookies: `*` forbids credentials), including the preflight a browser sends for
If-None-Match. Writes are not affected."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

PUBLIC_READ_PREFIXES = ("/api/", "/opendata/", "/ledger/")


class PublicReadCorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PUBLIC_READ_PREFIXES):
            return self.get_response(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "If-None-Match, Accept"
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = self.get_response(request)
            if request.method not in ("GET", "HEAD"):
                return response
            response["Access-Control-Expose-Headers"] = "ETag"
        response["Access-Control-Allow-Origin"] = "*"
        return response
