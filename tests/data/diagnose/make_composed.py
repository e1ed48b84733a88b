# SPDX-License-Identifier: Apache-2.0
"""Build ``h100-composed-4gpu.jsonl``: a COMPOSED four-GPU diagnose session made of real single-GPU windows.

Why composed: the late-rank inference needs several GPUs of one host, and the only device recording
so far is of one H100 (``../telemetry/h100-580.159.04.jsonl``, benchmarks/record_telemetry.py: one
window per scenario). Each GPU of the composed session is one of those real windows, unchanged
except for its identity (UUID, indices, PCI bus id renamed; the name marked "(composed)") and its raw
series (dropped to keep the file small; the verdict does not read them). It is NOT a recording of a
four-GPU machine: the windows were taken one after another on one GPU. Regenerate with
``python3 tests/data/diagnose/make_composed.py`` (needs no GPU).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "telemetry" / "h100-580.159.04.jsonl"
OUT = HERE / "h100-composed-4gpu.jsonl"

# refresh -> the recorded scenario shown as GPU 0, 1, 2, 3
LAYOUT = [
    ["gemm", "gemm", "copy", "gemm"],  # everyone works: no late rank
    ["nccl-simple-16ch", "gemm", "spin-1warp", "spin-every-sm"],  # GPU 1 still computes: late
    ["nccl-simple-16ch", "host-block", "spin-1warp", "spin-every-sm"],  # GPU 1 has enqueued nothing: late
]
NOTE = ("COMPOSED from real single-GPU windows: each GPU of each refresh is one window recorded on one H100 "
        "(tests/data/telemetry/h100-580.159.04.jsonl) under the scenario named in the line; UUIDs, indices and "
        "bus ids are renamed so that they read as four GPUs of one host, and raw series are dropped. Not a "
        "recording of a four-GPU machine (tests/data/diagnose/make_composed.py).")


def main() -> None:
    lines = [json.loads(t) for t in SOURCE.read_text().splitlines() if t.strip()]
    windows = {line["scenario"]: line for line in lines if line.get("kind") == "window"}
    out = [{"format_version": 1, "kind": "note", "text": NOTE, "source": SOURCE.name}]
    for refresh, scenarios in enumerate(LAYOUT):
        for gpu, scenario in enumerate(scenarios):
            summary = dict(windows[scenario]["summary"])
            real_uuid = summary["uuid"]
            summary.update(uuid=real_uuid[:-2] + f"{gpu:02x}", index=gpu, nvml_index=gpu,
                           pci_bus_id=f"0000:00:{6 + gpu:02x}.0", name=summary["name"] + " (composed)", series={})
            out.append({"format_version": 1, "kind": "window", "label": "diagnose", "refresh": refresh,
                        "scenario": scenario, "composed_from": real_uuid, "summary": summary})
    OUT.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in out))


if __name__ == "__main__":
    main()
