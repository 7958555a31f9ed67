"""ELM neuron: time the fast multi-step path against the plain step loop (the peer).

There is no installable peer library for the ELM neuron; the authors' reference code advances
the layer one step at a time, which is what ``elm_step`` in a Python loop does here. We time:

* step loop   -- ``elm_step`` T times (the published equations, literally);
* forward_seq -- parallel scan for the traces, one matmul for the MLP's trace input, a loop only
                 for the memory update;
* compiled    -- forward_seq with ``compile=True`` (torch.compile on the memory update).

Forward alone (no grad) and forward + backward, best of ``--repeats`` runs.

    python bench/bench_elm.py [--steps 500] [--batch 8] [--n-in 128] [--repeats 5] [--threads 1]
                              [--variant v1|branch] [--no-compile]
"""

from __future__ import annotations

import argparse
import time

import torch

from brainbridge.snn import ELM, elm_step


def step_loop(layer, x):
    p = layer.params()
    state = layer.initial_state(x.shape[1], like=x)
    ys = []
    for t in range(x.shape[0]):
        y, state = elm_step(x[t], state, p)
        ys.append(y)
    return torch.stack(ys)


def best(fn, repeats):
    fn()  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--n-in", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variant", default="v1")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is steadier on a busy machine)")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile=True row")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kw = {"variant": args.variant, "num_branches": 16 if args.variant == "branch" else None}
    layer = ELM(args.n_in, 2, **kw)
    fused = ELM(args.n_in, 2, compile=True, **kw)
    fused.load_state_dict(layer.state_dict())
    x = torch.randn(args.steps, args.batch, args.n_in)
    ref = step_loop(layer, x)
    assert torch.allclose(layer.forward_seq(x)[0], ref, atol=1e-5)
    if not args.no_compile:
        assert torch.allclose(fused.forward_seq(x)[0], ref, atol=1e-5)

    def fwd_bwd(fn):
        def run():
            layer.zero_grad()
            fused.zero_grad()
            fn().square().mean().backward()
        return run

    print(f"ELM {args.variant}: T={args.steps}, batch={args.batch}, n_in={args.n_in}, n_memory=100, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeats}")
    for label, wrap in [("forward (no grad)", None), ("forward + backward", fwd_bwd)]:
        fns = {
            "step loop (peer)": lambda: step_loop(layer, x),
            "forward_seq": lambda: layer.forward_seq(x)[0],
            "forward_seq compile=True": lambda: fused.forward_seq(x)[0],
        }
        if args.no_compile:
            del fns["forward_seq compile=True"]
        print(f"  {label}")
        base = None
        for name, fn in fns.items():
            if wrap is None:
                def run(fn=fn):
                    with torch.no_grad():
                        fn()
            else:
                run = wrap(fn)
            t = best(run, args.repeats)
            base = t if base is None else base
            print(f"    {name:26s} {t * 1e3:8.1f} ms   speed-up vs step loop {base / t:5.2f}x")


if __name__ == "__main__":
    main()
