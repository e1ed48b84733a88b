# SPDX-License-Identifier: Apache-2.0
"""deploy/: the container recipe, the Kubernetes DaemonSet and the systemd unit run the real CLI.

Each one's command line is parsed by waitbench's own argparse parser (a renamed or removed flag fails
here, not on a node) and its --serve address checked as the CLI checks it; the manifest is parsed with
PyYAML and its pieces checked against each other (ports, labels, the Hostname source); the unit is
checked by `systemd-analyze verify` where systemd is installed, with ExecStart pointed at this
install's `waitbench`. No image is built here (that needs a container engine and the CUDA images).
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from waitbench.cli.main import build_parser
from waitbench.diagnose.endpoint import bind_address

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def parse_cli(argv: list[str]):
    """The Namespace waitbench's parser makes of ``argv`` (after the program name), with --serve checked."""
    args = build_parser().parse_args(argv)
    assert args.command == "diagnose"
    _host, port = bind_address(args.serve, argument="--serve", public=args.serve_public)
    return args, port


def test_containerfile_runs_the_exporter_and_exposes_its_port():
    text = (DEPLOY / "Containerfile").read_text()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert entry == ["waitbench"]
    args, port = parse_cli(cmd)
    assert args.serve_public and args.seconds == 5.0
    assert re.search(rf"^EXPOSE {port}$", text, re.M)
    assert re.search(r"^USER (?!0\b|root\b)", text, re.M)  # not root
    assert "[exporter]" in text  # prometheus-client comes with the extra


def test_daemonset_runs_the_exporter_with_the_node_name_as_hostname():
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "waitbench-exporter.yaml").read_text()))
    by_kind = {d["kind"]: d for d in docs}
    assert set(by_kind) == {"DaemonSet", "Service"}
    ds, svc = by_kind["DaemonSet"], by_kind["Service"]
    pod = ds["spec"]["template"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (c,) = pod["spec"]["containers"]
    assert c["command"] == ["waitbench"]
    args, port = parse_cli(c["args"])
    assert args.serve_public
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "utility"
    (cport,) = c["ports"]
    assert cport["containerPort"] == port and cport["name"] == "metrics"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert "resources" in c and "nvidia.com/gpu" not in str(c["resources"])  # watching takes no GPU
    assert c["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert env["XDG_CACHE_HOME"]["value"] in mounts  # the probe's baseline cache is writable
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (sport,) = svc["spec"]["ports"]
    assert sport["targetPort"] == "metrics" and sport["port"] == port
    assert svc["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str  # systemd keys are case-sensitive
    cp.read(DEPLOY / "systemd" / "waitbench-exporter.service")
    return cp


def test_systemd_unit_execstart_is_a_valid_command_line():
    svc = unit()["Service"]
    argv = shlex.split(svc["ExecStart"])
    assert Path(argv[0]).name == "waitbench"
    args, port = parse_cli(argv[1:])
    assert args.serve_public and port == 9401
    assert svc["KillSignal"] == "SIGTERM" and svc["Restart"] == "on-failure"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    waitbench = Path(sys.executable).with_name("waitbench")
    if not waitbench.exists():
        pytest.skip("no waitbench console script beside this Python")
    text = (DEPLOY / "systemd" / "waitbench-exporter.service").read_text()
    (tmp_path / "waitbench-exporter.service").write_text(text.replace("/opt/waitbench/bin/waitbench", str(waitbench)))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "waitbench-exporter.service")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "waitbench-exporter.service" not in proc.stderr, proc.stderr
