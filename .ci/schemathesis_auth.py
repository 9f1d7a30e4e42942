"""Schemathesis hook for .ci/schemathesis: signs in for the run's requests.

The run tests every operation signed in, including those that end sessions
(DELETE /api/v1/me/sessions/{id} can end the very session in use), so the
token is fetched by signing in, and fetched again whenever a request gets a
401. Signing in by email keeps working when the run changes the username.
"""

import os

import requests
import schemathesis


@schemathesis.auth(retry_on=[401])
class SignIn:
    def get(self, case, context):
        base = os.environ["POSTROOM_FUZZ_BASE"]
        response = requests.post(
            f"{base}/api/v1/sessions",
            json={
                "login": os.environ["POSTROOM_FUZZ_LOGIN"],
                "password": os.environ["POSTROOM_FUZZ_PASSWORD"],
                "keep_signed_in": True,
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
