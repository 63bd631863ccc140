"""RS256 tokens verified against a JWKS served over real HTTP; algorithms stay pinned."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth import TokenVerifier, Unauthorized
from shared.config import DEV_JWT_SECRET, ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def _claims(**extra):
    return {
        "sub": "u1",
        "org": str(uuid.uuid4()),
        "roles": ["manager"],
        "exp": time.time() + 60,
        **extra,
    }


def test_rs256_token_from_the_jwks_is_accepted_in_production(jwks_url, signing_key, monkeypatch):
    monkeypatch.setenv("ATTAIN_ENV", "production")
    verifier = TokenVerifier(ServiceSettings(jwt_jwks_url=jwks_url))
    token = jwt.encode(_claims(), signing_key, algorithm="RS256", headers={"kid": "k1"})
    principal = verifier.verify(token)
    assert principal.roles == frozenset({"manager"})


def test_hs256_token_is_refused_when_rs256_is_configured(jwks_url):
    verifier = TokenVerifier(ServiceSettings(jwt_jwks_url=jwks_url))
    token = jwt.encode(_claims(), DEV_JWT_SECRET, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_token_signed_by_another_rsa_key_is_refused(jwks_url):
    verifier = TokenVerifier(ServiceSettings(jwt_jwks_url=jwks_url))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), stranger, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(Unauthorized):
        verifier.verify(token)
