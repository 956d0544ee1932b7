"""Traces to an `https://` collector, over both transports: the collector's certificate is
signed by a CA of the test's own, trusted through `OTEL_EXPORTER_OTLP_CERTIFICATE`, and the
collector asks for a client certificate (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_KEY`).
The certificates are made for each run with the `openssl` command, valid for a day."""

import ssl
import subprocess
import time

import pytest

from conftest import MASTER_KEY, openai_deployment
from otel_helpers import CLIENT, SERVER, Collector, GrpcCollector


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("otel-pki")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    def key(name):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")

    key("ca")
    run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=tollgate test CA", "-days", "1",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        "-out", "ca.pem")
    for name, ext in [
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ]:
        key(name)
        run("req", "-new", "-key", f"{name}.key", "-subj", f"/CN=tollgate test {name}", "-out", f"{name}.csr")
        (d / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\n{ext}\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return d


def tls_env(pki, client_cert=True) -> dict:
    env = {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki / "ca.pem")}
    if client_cert:
        env["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"] = str(pki / "client.pem")
        env["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = str(pki / "client.key")
    return env


def config(mock):
    return {
        "model_list": [openai_deployment(mock, "gpt-test")],
        "litellm_settings": {"callbacks": ["otel"]},
        "general_settings": {"master_key": MASTER_KEY},
    }


def chat(gw):
    r = gw.post("/v1/chat/completions", {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    return r


def wait_for(predicate, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def test_otel_https_collector_with_the_operators_ca_and_a_client_certificate(mock, start_gateway, pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki / "ca.pem")
    collector = Collector(tls=context)
    try:
        assert collector.endpoint().startswith("https://")
        gw = start_gateway(config(mock), env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint(),
                                              "OTEL_SERVICE_NAME": "with-ca", **tls_env(pki)})
        chat(gw)
        traces = collector.wait_for_roots(1)
        roots = [s for spans in traces.values() for s in spans if s.kind == SERVER]
        assert len(roots) == 1 and len(traces[roots[0].trace_id.hex()]) == 2, traces
        assert {res["service.name"] for res, _ in collector.spans} == {"with-ca"}

        # Without the operator's CA, the collector's certificate is not trusted: nothing is
        # sent, the call is unaffected, and the log says why once.
        gw2 = start_gateway(config(mock), env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint(),
                                               "OTEL_SERVICE_NAME": "without-ca"})
        chat(gw2)
        assert wait_for(lambda: "otel: exports to" in gw2.log()), gw2.log()[-2000:]
        line = next(ln for ln in gw2.log().splitlines() if "otel: exports to" in ln)
        assert "https://127.0.0.1" in line
        chat(gw2)
        assert {res["service.name"] for res, _ in collector.spans} == {"with-ca"}

        # A CA file that is not there: the exporter does not start, and the log names the file.
        gw3 = start_gateway(config(mock), env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint(),
                                               "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki / "missing.pem")})
        chat(gw3)
        assert wait_for(lambda: "could not be built" in gw3.log()), gw3.log()[-2000:]
        assert "missing.pem" in gw3.log()
    finally:
        collector.close()


def test_otel_grpc_over_tls_with_a_client_certificate(mock, start_gateway, pki):
    grpc = pytest.importorskip("grpc")
    credentials = grpc.ssl_server_credentials(
        [((pki / "server.key").read_bytes(), (pki / "server.pem").read_bytes())],
        root_certificates=(pki / "ca.pem").read_bytes(),
        require_client_auth=True,
    )
    server = GrpcCollector(credentials)
    try:
        # Schemeless: https, since OTEL_EXPORTER_OTLP_INSECURE is not set.
        endpoint = server.endpoint().removeprefix("https://")
        gw = start_gateway(config(mock), env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                              "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, **tls_env(pki)})
        chat(gw)
        spans = server.wait_for_spans(2)
        assert sorted(s.kind for s in spans) == sorted([SERVER, CLIENT]), spans
    finally:
        server.close()
