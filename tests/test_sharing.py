"""Share links are safe by default: credentials, refusal of a bare --share,
Hugging Face Space detection."""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from core.ui.sharing import LaunchRefused, plan_launch
from tests.conftest import ROOT, free_port


def args(**kw):
    base = dict(host="127.0.0.1", share=False, auth=None, auth_file=None, share_without_auth=False)
    return argparse.Namespace(**dict(base, **kw))


def test_share_without_credentials_is_refused_unless_explicit():
    with pytest.raises(LaunchRefused, match="--auth"):
        plan_launch(args(share=True), {})
    assert plan_launch(args(share=True, share_without_auth=True), {}).share is True
    assert plan_launch(args(share=True, auth=["ann:pw"]), {}).auth == [("ann", "pw")]
    assert plan_launch(args(share=True), {"IMPASTO_AUTH": "bob:x,cy:y"}).auth == [("bob", "x"), ("cy", "y")]


def test_auth_file_and_malformed_credentials(tmp_path):
    creds = tmp_path / "users.txt"
    creds.write_text("# team\nann:one\n\nbob:two:with:colons\n")
    assert plan_launch(args(auth_file=str(creds)), {}).auth == [("ann", "one"), ("bob", "two:with:colons")]
    for bad in (["nopassword"], [":pw"], ["user:"]):
        with pytest.raises(LaunchRefused, match="user:password"):
            plan_launch(args(auth=bad), {})
    with pytest.raises(LaunchRefused, match="no such file"):
        plan_launch(args(auth_file=str(tmp_path / "missing")), {})


def test_on_a_space_no_share_link_is_made():
    plan = plan_launch(args(share=True), {"SPACE_ID": "someone/impasto"})
    assert plan.share is False and plan.host == "0.0.0.0"


def test_the_any_model_field_is_for_loopback_only():
    env = {"IMPASTO_ALLOW_MODEL_FIELD": "1"}
    assert plan_launch(args(), env).host == "127.0.0.1"
    for unsafe in (args(share=True, auth=["ann:pw"]), args(host="0.0.0.0"), args(host="192.168.1.5")):
        with pytest.raises(LaunchRefused, match="IMPASTO_ALLOW_MODEL_FIELD"):
            plan_launch(unsafe, env)
    assert plan_launch(args(host="0.0.0.0"), {"IMPASTO_ALLOW_MODEL_FIELD": "0"}).host == "0.0.0.0"


def test_cli_share_without_credentials_exits_nonzero_and_opens_no_port():
    port = free_port()
    done = subprocess.run([sys.executable, "app.py", "--share", "--port", str(port)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--auth" in done.stderr and "--share-without-auth" in done.stderr
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_auth_refuses_clients_without_credentials_and_serves_those_with_them():
    from gradio_client import Client

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--auth", "ann:s3cret"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with pytest.raises(Exception):
            Client(url, verbose=False).view_api(print_info=False)
        with pytest.raises(Exception):
            Client(url, auth=("ann", "wrong"), verbose=False)
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        assert "/stylize" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
