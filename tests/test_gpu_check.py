"""bench/gpu_check.py, the one script that runs every CUDA path, still runs (on the CPU here)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"


def test_gpu_check_smoke_runs_and_agrees():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--repeat", "1", "--only", "rdm correlation",
         "cka linear", "LIF", "Kuramoto", "simulate"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.endswith("  ok")]
    assert len(rows) == 5, proc.stdout


def test_gpu_check_refuses_without_cuda_unless_smoke():
    import torch

    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, str(SCRIPT), "--skip-tests"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "no CUDA device here" in proc.stdout
