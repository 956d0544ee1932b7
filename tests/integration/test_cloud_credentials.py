"""Cloud credentials the way a VM, container or CI runner gets them, each source against the
mock's endpoints (loadtest/mock/cloud_creds.rs), pointed at through the environment variables the
official SDKs read. Each test shows the signed or authorized request reaching the provider mock
and, with a short lifetime, a refresh before expiry. Nothing leaves 127.0.0.1: the metadata
defaults are overridden here or closed by conftest."""

import json
import re
import time

import httpx
import pytest

from provider_helpers import config, deployment, expected_signature, parse_sigv4, user

REGION = "us-east-1"
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
# Empty values count as unset: the runner's own AWS settings must not leak into a test.
NO_AWS_ENV = {
    name: ""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
    )
}


def stats(mock):
    return httpx.get(f"{mock.base}/__mock/stats", timeout=5).json()


@pytest.fixture
def lifetime(mock):
    """Sets the lifetime of what the mock's credential endpoints issue; restored after."""

    def set_lifetime(seconds):
        httpx.put(f"{mock.base}/__mock/credential_lifetime/{seconds}", timeout=5).raise_for_status()

    yield set_lifetime
    set_lifetime(3600)


@pytest.fixture
def aws_gateway(mock, start_gateway, tmp_path):
    """A Bedrock deployment without keys in the config, run with `env` on top of an environment
    cleared of AWS settings (HOME is an empty directory: no ~/.aws)."""

    def start(env=None, **params):
        cfg = config(deployment("claude", f"bedrock/{MODEL_ID}", api_base=mock.base, aws_region_name=REGION, **params))
        return start_gateway(cfg, env={**NO_AWS_ENV, "HOME": str(tmp_path), **(env or {})})

    return start


def answered(gw, alias="claude", timeout=10.0):
    """Calls until the gateway answers (credentials are fetched in the background at start)."""
    deadline = time.monotonic() + timeout
    while True:
        r = gw.post("/v1/chat/completions", {"model": alias, "messages": user("hi")})
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, f"{r.status_code} {r.text}\n{gw.log()[-3000:]}"
            return r.json()


def bedrock_requests(mock):
    return [r for r in mock.requests() if r["path"].startswith("/model/")]


def assert_signed_with_issued_keys(rec):
    """Signed with mock-issued temporary keys: returns their number."""
    fields = parse_sigv4(rec["headers"]["authorization"])
    akid = fields["Credential"].split("/")[0]
    m = re.fullmatch(r"ASIAMOCK(\d{12})", akid)
    assert m, akid
    n = int(m.group(1))
    assert rec["headers"]["x-amz-security-token"] == f"mock-session-token-{n}"
    assert fields["Signature"] == expected_signature(rec, f"mock-secret-{n}", REGION, "bedrock")
    return n


def wait_for_new_keys(mock, after, timeout=10.0):
    deadline = time.monotonic() + timeout
    while stats(mock)["aws_keys_issued"] <= after:
        assert time.monotonic() < deadline, "the gateway did not refresh its AWS keys"
        time.sleep(0.2)


def assert_refreshes_before_expiry(gw, mock, first):
    """With a 6 s lifetime the keys are fetched again after about 3 s, while still valid, and
    the next call is signed with the new ones."""
    issued = stats(mock)["aws_keys_issued"]
    wait_for_new_keys(mock, issued)
    time.sleep(0.3)
    mock.clear()
    answered(gw)
    second = assert_signed_with_issued_keys(bedrock_requests(mock)[-1])
    assert second > first


def test_imds_v2_instance_role(mock, aws_gateway, lifetime):
    lifetime(6)
    mock.clear()
    gw = aws_gateway({"AWS_EC2_METADATA_SERVICE_ENDPOINT": mock.base})
    answered(gw)
    reqs = mock.requests()
    put = next(r for r in reqs if r["path"] == "/latest/api/token")
    assert put["method"] == "PUT"
    assert put["headers"]["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    role = next(r for r in reqs if r["path"] == "/latest/meta-data/iam/security-credentials/")
    assert role["headers"]["x-aws-ec2-metadata-token"].startswith("mock-imds-token-")
    creds = next(r for r in reqs if r["path"] == "/latest/meta-data/iam/security-credentials/mock-instance-role")
    assert creds["method"] == "GET" and creds["headers"]["x-aws-ec2-metadata-token"]
    first = assert_signed_with_issued_keys(bedrock_requests(mock)[-1])
    assert_refreshes_before_expiry(gw, mock, first)


def test_web_identity_assume_role_with_web_identity(mock, aws_gateway, lifetime, tmp_path):
    lifetime(6)
    token_file = tmp_path / "web-identity-token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.ci-runner-oidc-token.sig\n")
    mock.clear()
    gw = aws_gateway(
        {
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci",
            "AWS_ROLE_SESSION_NAME": "ci-session",
            "AWS_ENDPOINT_URL_STS": f"{mock.base}/sts",
        }
    )
    answered(gw)
    sts = next(r for r in mock.requests() if r["path"] == "/sts")
    assert sts["body"] == {
        "Action": "AssumeRoleWithWebIdentity",
        "RoleArn": "arn:aws:iam::123456789012:role/ci",
        "RoleSessionName": "ci-session",
        "Version": "2011-06-15",
        "WebIdentityToken": "eyJhbGciOiJSUzI1NiJ9.ci-runner-oidc-token.sig",
    }
    assert "authorization" not in sts["headers"], "AssumeRoleWithWebIdentity is not signed"
    first = assert_signed_with_issued_keys(bedrock_requests(mock)[-1])
    assert_refreshes_before_expiry(gw, mock, first)


def test_aws_role_name_assumes_the_role_with_the_deployment_keys(mock, aws_gateway, lifetime):
    lifetime(6)
    mock.clear()
    gw = aws_gateway(
        {"AWS_ENDPOINT_URL_STS": f"{mock.base}/sts"},
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_role_name="arn:aws:iam::123456789012:role/bedrock-caller",
        aws_session_name="tollgate-test",
    )
    answered(gw)
    sts = next(r for r in mock.requests() if r["path"] == "/sts")
    assert sts["body"]["Action"] == "AssumeRole"
    assert sts["body"]["RoleArn"] == "arn:aws:iam::123456789012:role/bedrock-caller"
    assert sts["body"]["RoleSessionName"] == "tollgate-test"
    # STS itself is called signed with the deployment's own keys, for sts in the region.
    fields = parse_sigv4(sts["headers"]["authorization"])
    assert fields["Credential"].startswith(f"{AKID}/")
    assert fields["Signature"] == expected_signature(sts, SECRET, REGION, "sts")
    # The provider call is signed with the assumed role's keys, not the deployment's.
    first = assert_signed_with_issued_keys(bedrock_requests(mock)[-1])
    assert_refreshes_before_expiry(gw, mock, first)


def test_shared_credentials_file_profile(mock, aws_gateway, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n"
        f"[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = {SECRET}\n"
    )
    mock.clear()
    gw = aws_gateway({"AWS_SHARED_CREDENTIALS_FILE": str(creds)}, aws_profile_name="team")
    answered(gw)
    rec = bedrock_requests(mock)[-1]
    fields = parse_sigv4(rec["headers"]["authorization"])
    assert fields["Credential"].startswith("AKIATEAM/")
    assert fields["Signature"] == expected_signature(rec, SECRET, REGION, "bedrock")
    assert "x-amz-security-token" not in rec["headers"]
    assert not [r for r in mock.requests() if r["path"].startswith("/latest/")], "a profile is used before IMDS"


def test_default_profile_from_home(mock, aws_gateway, tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(f"[default]\naws_access_key_id=AKIAHOME\naws_secret_access_key={SECRET}\n")
    mock.clear()
    gw = aws_gateway({"AWS_EC2_METADATA_SERVICE_ENDPOINT": mock.base})
    answered(gw)
    rec = bedrock_requests(mock)[-1]
    assert parse_sigv4(rec["headers"]["authorization"])["Credential"].startswith("AKIAHOME/")
    assert not [r for r in mock.requests() if r["path"].startswith("/latest/")]


def test_ecs_container_endpoint(mock, aws_gateway, lifetime):
    lifetime(6)
    mock.clear()
    gw = aws_gateway(
        {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{mock.base}/v2/credentials/task-1",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-auth-token",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": mock.base,
        }
    )
    answered(gw)
    reqs = mock.requests()
    ecs = next(r for r in reqs if r["path"] == "/v2/credentials/task-1")
    assert ecs["method"] == "GET"
    assert ecs["headers"]["authorization"] == "container-auth-token"
    assert not [r for r in reqs if r["path"].startswith("/latest/")], "the container endpoint is used before IMDS"
    first = assert_signed_with_issued_keys(bedrock_requests(mock)[-1])
    assert_refreshes_before_expiry(gw, mock, first)


def test_environment_keys_come_before_instance_metadata(mock, aws_gateway):
    mock.clear()
    gw = aws_gateway(
        {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_EC2_METADATA_SERVICE_ENDPOINT": mock.base}
    )
    answered(gw)
    rec = bedrock_requests(mock)[-1]
    assert expected_signature(rec, SECRET, REGION, "bedrock") == parse_sigv4(rec["headers"]["authorization"])["Signature"]
    assert not [r for r in mock.requests() if r["path"].startswith("/latest/")]


def test_no_credential_source_is_a_clear_error(mock, aws_gateway):
    """IMDS unreachable (conftest's closed port): the call fails saying why, it does not hang."""
    gw = aws_gateway()
    r = gw.post("/v1/chat/completions", {"model": "claude", "messages": user("hi")})
    assert r.status_code >= 400
    assert "no AWS credentials" in r.text, r.text


# --- Google Application Default Credentials (Vertex AI) -------------------------------------

VERTEX_MODEL_PATH = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
BEARER = re.compile(r"Bearer mock-access-token-(\d+)")


@pytest.fixture
def vertex_gateway(mock, start_gateway):
    def start(env=None, **params):
        cfg = config(
            deployment(
                "gem", "vertex_ai/gemini-2.0-flash", api_base=mock.base, vertex_project="p", vertex_location="us-central1", **params
            )
        )
        return start_gateway(cfg, env={"GOOGLE_APPLICATION_CREDENTIALS": "", **(env or {})})

    return start


def provider_token(mock, path):
    """The number of the mock-issued bearer token on the last request to `path`."""
    recs = [r for r in mock.requests() if r["path"] == path]
    assert recs, [r["path"] for r in mock.requests()]
    m = BEARER.fullmatch(recs[-1]["headers"]["authorization"])
    assert m, recs[-1]["headers"]
    n = int(m.group(1))
    assert n <= stats(mock)["tokens_issued"], "a token the mock issued"
    return n


def assert_token_refreshed(gw, mock, alias, path, first):
    """With a 6 s lifetime a new token is fetched after about 3 s, and the next call uses it."""
    issued = stats(mock)["tokens_issued"]
    deadline = time.monotonic() + 10
    while stats(mock)["tokens_issued"] <= issued:
        assert time.monotonic() < deadline, "the gateway did not refresh its token"
        time.sleep(0.2)
    time.sleep(0.3)
    answered(gw, alias)
    assert provider_token(mock, path) > first


def test_gce_metadata_server_token(mock, vertex_gateway, lifetime):
    lifetime(6)
    mock.clear()
    gw = vertex_gateway({"GCE_METADATA_HOST": f"127.0.0.1:{mock.port}"})
    answered(gw, "gem")
    meta = [r for r in mock.requests() if r["path"] == "/computeMetadata/v1/instance/service-accounts/default/token"]
    assert meta and meta[0]["method"] == "GET"
    assert meta[0]["headers"]["metadata-flavor"] == "Google"
    first = provider_token(mock, VERTEX_MODEL_PATH)
    assert_token_refreshed(gw, mock, "gem", VERTEX_MODEL_PATH, first)


def test_authorized_user_refresh_token_grant(mock, vertex_gateway, lifetime, tmp_path):
    lifetime(6)
    creds = tmp_path / "adc.json"
    creds.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "764086051850-abc.apps.googleusercontent.com",
                "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
                "refresh_token": "1//0refresh-token",
                "token_uri": f"{mock.base}/token",
            }
        )
    )
    mock.clear()
    gw = vertex_gateway({"GOOGLE_APPLICATION_CREDENTIALS": str(creds)})
    answered(gw, "gem")
    grant = next(r for r in mock.requests() if r["path"] == "/token")
    assert grant["body"] == {
        "grant_type": "refresh_token",
        "client_id": "764086051850-abc.apps.googleusercontent.com",
        "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": "1//0refresh-token",
    }
    first = provider_token(mock, VERTEX_MODEL_PATH)
    assert_token_refreshed(gw, mock, "gem", VERTEX_MODEL_PATH, first)


def test_external_account_file_sourced_token_exchange(mock, vertex_gateway, lifetime, tmp_path):
    lifetime(6)
    subject = tmp_path / "oidc-token"
    subject.write_text("eyJhbGciOiJSUzI1NiJ9.github-actions-oidc.sig\n")
    creds = tmp_path / "wif.json"
    audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci/providers/github"
    creds.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": audience,
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": f"{mock.base}/v1/token",
                "credential_source": {"file": str(subject), "format": {"type": "text"}},
            }
        )
    )
    mock.clear()
    gw = vertex_gateway(vertex_credentials=str(creds))
    answered(gw, "gem")
    exchange = next(r for r in mock.requests() if r["path"] == "/v1/token")
    assert exchange["body"] == {
        "audience": audience,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "subject_token": "eyJhbGciOiJSUzI1NiJ9.github-actions-oidc.sig",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    }
    first = provider_token(mock, VERTEX_MODEL_PATH)
    assert_token_refreshed(gw, mock, "gem", VERTEX_MODEL_PATH, first)


# --- Azure OpenAI: Entra ID --------------------------------------------------------------------

AZURE_CHAT_PATH = "/openai/deployments/my-gpt4o-deployment/chat/completions"


@pytest.fixture
def azure_gateway(mock, start_gateway):
    def start(env=None, **params):
        cfg = config(
            deployment("azure-gpt", "azure/my-gpt4o-deployment", api_base=mock.base, api_version="2024-10-21", **params)
        )
        return start_gateway(cfg, env=env)

    return start


def test_entra_id_client_credentials(mock, azure_gateway, lifetime):
    lifetime(6)
    mock.clear()
    gw = azure_gateway(
        {"AZURE_AUTHORITY_HOST": mock.base},
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        client_id="app-client-id",
        client_secret="app-client-secret",
    )
    answered(gw, "azure-gpt")
    grant = next(r for r in mock.requests() if r["path"].endswith("/oauth2/v2.0/token"))
    assert grant["path"] == "/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    assert grant["body"] == {
        "grant_type": "client_credentials",
        "client_id": "app-client-id",
        "client_secret": "app-client-secret",
        "scope": "https://cognitiveservices.azure.com/.default",
    }
    chat = [r for r in mock.requests() if r["path"] == AZURE_CHAT_PATH][-1]
    assert "api-key" not in chat["headers"]
    first = provider_token(mock, AZURE_CHAT_PATH)
    assert_token_refreshed(gw, mock, "azure-gpt", AZURE_CHAT_PATH, first)


def test_managed_identity_through_instance_metadata(mock, azure_gateway, lifetime):
    lifetime(6)
    mock.clear()
    gw = azure_gateway({"AZURE_POD_IDENTITY_AUTHORITY_HOST": mock.base})
    answered(gw, "azure-gpt")
    imds = next(r for r in mock.requests() if r["path"] == "/metadata/identity/oauth2/token")
    assert imds["method"] == "GET"
    assert imds["headers"]["metadata"] == "true"
    assert "resource=https%3A%2F%2Fcognitiveservices.azure.com" in imds["query"]
    assert "api-version=2018-02-01" in imds["query"]
    first = provider_token(mock, AZURE_CHAT_PATH)
    assert_token_refreshed(gw, mock, "azure-gpt", AZURE_CHAT_PATH, first)


def test_static_azure_ad_token_and_api_key_stay_as_they_were(mock, azure_gateway):
    mock.clear()
    gw = azure_gateway(azure_ad_token="static-entra-token")
    answered(gw, "azure-gpt")
    chat = [r for r in mock.requests() if r["path"] == AZURE_CHAT_PATH][-1]
    assert chat["headers"]["authorization"] == "Bearer static-entra-token"
    gw = azure_gateway({"AZURE_POD_IDENTITY_AUTHORITY_HOST": mock.base}, api_key="azure-secret")
    answered(gw, "azure-gpt")
    chat = [r for r in mock.requests() if r["path"] == AZURE_CHAT_PATH][-1]
    assert chat["headers"]["api-key"] == "azure-secret"
    assert "authorization" not in chat["headers"]
    assert not [r for r in mock.requests() if r["path"].startswith("/metadata/")], "no token fetched with an api-key"


def test_external_account_with_service_account_impersonation(mock, vertex_gateway, tmp_path):
    """Workload identity federation as CI runners use it: the federated token from STS buys
    the service account's token at generateAccessToken, which is what Vertex receives."""
    subject = tmp_path / "oidc.json"
    subject.write_text(json.dumps({"id_token": "eyJ.oidc-in-json.sig"}))
    impersonation = f"{mock.base}/v1/projects/-/serviceAccounts/ci@p.iam.gserviceaccount.com:generateAccessToken"
    creds = tmp_path / "wif.json"
    creds.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci/providers/oidc",
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "token_url": f"{mock.base}/v1/token",
                "service_account_impersonation_url": impersonation,
                "credential_source": {
                    "file": str(subject),
                    "format": {"type": "json", "subject_token_field_name": "id_token"},
                },
            }
        )
    )
    mock.clear()
    gw = vertex_gateway(vertex_credentials=str(creds))
    answered(gw, "gem")
    reqs = mock.requests()
    exchange = next(r for r in reqs if r["path"] == "/v1/token")
    assert exchange["body"]["subject_token"] == "eyJ.oidc-in-json.sig"
    imp = next(r for r in reqs if r["path"].endswith(":generateAccessToken"))
    federated = int(BEARER.fullmatch(imp["headers"]["authorization"]).group(1))
    assert imp["body"]["scope"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert provider_token(mock, VERTEX_MODEL_PATH) > federated, "Vertex gets the impersonated token"


def test_sagemaker_signs_with_instance_role_keys(mock, start_gateway, tmp_path):
    """SageMaker walks the same chain as Bedrock (here IMDSv2), signed for `sagemaker`."""
    mock.clear()
    cfg = config(deployment("sm", "sagemaker/my-tgi", api_base=mock.base, aws_region_name=REGION))
    gw = start_gateway(cfg, env={**NO_AWS_ENV, "HOME": str(tmp_path), "AWS_EC2_METADATA_SERVICE_ENDPOINT": mock.base})
    answered(gw, "sm")
    rec = [r for r in mock.requests() if r["path"].endswith("/invocations")][-1]
    fields = parse_sigv4(rec["headers"]["authorization"])
    n = int(fields["Credential"].split("/")[0].removeprefix("ASIAMOCK"))
    assert rec["headers"]["x-amz-security-token"] == f"mock-session-token-{n}"
    assert fields["Signature"] == expected_signature(rec, f"mock-secret-{n}", REGION, "sagemaker")
