"""An OpenID Connect identity provider running in the test process, over real HTTP.

It serves what a real one (ID.gov.ua through a broker, BankID) does for the authorisation
code flow: discovery, an authorisation endpoint that requires PKCE (S256), a token endpoint
that checks the client, the single-use code, the redirect URI and the code verifier, RS256
ID tokens signed with a key published at the JWKS address, and userinfo. The portal's real
django-allauth flow talks to it with `requests`; nothing of allauth is mocked.

Knobs for the refusal tests: `token_claims` are merged into the next ID token (a past `exp`,
another `aud`), `signing_key` can be a key the JWKS does not publish (a forged token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OIDCProvider:
    KID = "opencity-test-key"

    def __init__(self, *, client_id: str = "opencity-portal") -> None:
        self.client_id = client_id
        self.client_secret = secrets.token_urlsafe(16)
        self.key = new_key()
        self.signing_key = self.key
        self.person: dict = {}  # the claims of whoever logs in next
        self.token_claims: dict = {}  # merged into the next ID token
        self.authorisations: list[dict] = []  # the query of each authorisation request
        self.token_errors: list[str] = []  # why the token endpoint refused, in order
        self._codes: dict[str, dict] = {}
        self._tokens: dict[str, dict] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OIDCProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- endpoints -------------------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "email", "email_verified", "name", "birthdate", "address"],
        }

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.KID, alg="RS256", use="sig")
        return {"keys": [jwk]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict, str]:
        """Consent is given at once for `self.person`; the code is bound to the challenge."""
        self.authorisations.append(query)
        redirect_uri = query["redirect_uri"]
        if (
            query.get("client_id") != self.client_id
            or query.get("response_type") != "code"
            or "openid" not in query.get("scope", "").split()
        ):
            return 400, {}, "invalid authorisation request"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            error = urlencode({"error": "invalid_request", "state": query.get("state", "")})
            return 302, {"Location": f"{redirect_uri}?{error}"}, ""
        code = secrets.token_urlsafe(24)
        self._codes[code] = {
            "redirect_uri": redirect_uri,
            "challenge": query["code_challenge"],
            "person": dict(self.person),
        }
        answer = urlencode({"code": code, "state": query.get("state", "")})
        return 302, {"Location": f"{redirect_uri}?{answer}"}, ""

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, secret = (
                base64.b64decode(authorization[6:]).decode().partition(":")
            )  # allauth may use either method
        if client_id != self.client_id or secret != self.client_secret:
            return self._refuse(401, "invalid_client")
        grant = self._codes.pop(form.get("code", ""), None)  # single use
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._refuse(400, "invalid_grant")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._refuse(400, "invalid_grant")
        if s256(form.get("code_verifier", "")) != grant["challenge"]:
            return self._refuse(400, "invalid_grant: PKCE verification failed")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            **grant["person"],
            **self.token_claims,
        }
        id_token = jwt.encode(
            claims, self.signing_key, algorithm="RS256", headers={"kid": self.KID}
        )
        access_token = secrets.token_urlsafe(24)
        self._tokens[access_token] = grant["person"]
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def _refuse(self, status: int, reason: str) -> tuple[int, dict]:
        self.token_errors.append(reason)
        return status, {"error": reason.split(":")[0], "error_description": reason}

    def userinfo(self, authorization: str) -> tuple[int, dict]:
        person = self._tokens.get(authorization.removeprefix("Bearer "))
        if person is None:
            return 401, {"error": "invalid_token"}
        return 200, person

    # --- HTTP --------------------------------------------------------------------------------

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet test output
                pass

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif url.path == "/jwks":
                    self._json(200, provider.jwks())
                elif url.path == "/authorize":
                    status, headers, text = provider.authorize(query)
                    self._json(status, {"detail": text}, headers)
                elif url.path == "/userinfo":
                    self._json(*provider.userinfo(self.headers.get("Authorization", "")))
                else:
                    self._json(404, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if urlparse(self.path).path == "/token":
                    self._json(*provider.token(form, self.headers.get("Authorization", "")))
                else:
                    self._json(404, {})

        return Handler
