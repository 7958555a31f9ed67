"""Benchmark the LIF layer against snntorch ``Leaky`` and spikingjelly ``LIFNode`` (CPU).

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_lif.py            # both problems, best of 5 after a warm-up
    python bench/bench_lif.py --quick    # small sizes, a smoke run

Problems (issue #8), each timed as forward + backward, best of ``--repeat`` runs after one
warm-up, float32, ``torch.set_num_threads`` left at its default:

(a) GEMM-bound: ``Linear(1024 -> 1024)`` + LIF, batch 64, T = 100. The Linear is applied to all
    T steps at once (``x`` reshaped to ``(T * batch, 1024)``) for every library, so the
    difference is the neuron; "Linear alone" is the same Linear on the same data with no
    neuron, and our overhead over it is printed as a percentage.
(b) neuron-bound: 256 neurons, batch 32, T = 2000, input given directly to the neuron.

Every library gets the same decay (beta = 0.9, i.e. spikingjelly ``tau = 10`` with
``decay_input=False``), threshold 1, reset by subtraction and the arctan surrogate (alpha = 2).
snntorch is stepped in a Python loop over ``cur.unbind(0)`` (its fastest use) and, as in its
tutorials, over ``cur[step]``; spikingjelly runs in multi-step mode ``'m'`` with the ``torch``
backend; ours is ``LIF.forward_seq`` (fused path). Indexing ``cur[step]`` (which spikingjelly's
``'m'`` mode also does internally) makes the backward O(T^2): every step's gradient is a
full-size ``(T, batch, ...)`` tensor that autograd sums, so those two runners are timed at the
full T of (b) only with ``--all`` (minutes); (b') times every runner at T / 10. Ours is timed
with the default ``reset_timing="same"`` (spikingjelly's dynamics) and with "previous"
(snntorch's). Finally the spike counts of both timings are compared on the same input.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from brainbridge.snn import LIF

BETA, THETA = 0.9, 1.0


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peers():
    import snntorch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from spikingjelly.activation_based import functional, neuron, surrogate
    return snntorch, functional, neuron, surrogate


def neuron_runners(shape_in):
    """name -> f(current (T, B, N) requiring grad) -> spikes (T, B, N)."""
    snntorch, functional, neuron, surrogate = peers()
    ours_same = LIF(beta=BETA, threshold=THETA, surrogate="arctan")
    ours_prev = LIF(beta=BETA, threshold=THETA, surrogate="arctan", reset_timing="previous")
    leaky = snntorch.Leaky(beta=BETA, threshold=THETA, spike_grad=snntorch.surrogate.atan(alpha=2.0))
    node = neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=THETA, v_reset=None,
                          surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m", backend="torch")

    def run_snntorch(cur):  # unbind: one backward node for all steps
        mem = leaky.reset_mem()
        out = []
        for xt in cur.unbind(0):
            s, mem = leaky(xt, mem)
            out.append(s)
        return torch.stack(out)

    def run_snntorch_indexed(cur):  # the tutorials' cur[step]: O(T^2) backward
        mem = leaky.reset_mem()
        out = []
        for t in range(cur.shape[0]):
            s, mem = leaky(cur[t], mem)
            out.append(s)
        return torch.stack(out)

    def run_sj(cur):
        functional.reset_net(node)
        return node(cur)

    return {
        "ours (same)": lambda cur: ours_same.forward_seq(cur)[0],
        "ours (previous)": lambda cur: ours_prev.forward_seq(cur)[0],
        "snntorch Leaky": run_snntorch,
        "snntorch Leaky, cur[t]": run_snntorch_indexed,
        "spikingjelly LIFNode 'm'": run_sj,
    }


def bench_gemm(T: int, B: int, F: int, repeat: int) -> dict[str, float]:
    torch.manual_seed(0)
    lin = torch.nn.Linear(F, F)
    with torch.no_grad():
        lin.weight.mul_(2.0)  # enough drive to spike
    x = torch.rand(T, B, F)
    runners = neuron_runners((T, B, F))
    times = {}

    def linear_alone():
        lin.zero_grad(set_to_none=True)
        lin(x.reshape(T * B, F)).sum().backward()

    times["Linear alone"] = best_time(linear_alone, repeat)
    for name, run in runners.items():
        def step(run=run):
            lin.zero_grad(set_to_none=True)
            cur = lin(x.reshape(T * B, F)).reshape(T, B, F)
            run(cur).sum().backward()
        times[name] = best_time(step, repeat)
    with torch.no_grad():
        cur = lin(x.reshape(T * B, F)).reshape(T, B, F)
    return times, cur


def bench_neuron(T: int, B: int, N: int, repeat: int, skip: tuple[str, ...] = ()):
    torch.manual_seed(1)
    x = (torch.randn(T, B, N) * 0.5 + 0.15).requires_grad_()
    times = {}
    for name, run in neuron_runners((T, B, N)).items():
        if name in skip:
            continue
        def step(run=run):
            x.grad = None
            run(x).sum().backward()
        times[name] = best_time(step, repeat)
    return times, x.detach()


def report(title: str, times: dict[str, float], base: str | None = None) -> None:
    print(f"\n{title}")
    ours = times["ours (same)"]
    for name, t in times.items():
        ratio = f"{t / ours:6.2f}x ours" if name != "ours (same)" else ""
        print(f"  {name:28s} {t:8.4f} s  {ratio}")
    if base is not None:
        over = 100 * (ours / times[base] - 1)
        over_p = 100 * (times["ours (previous)"] / times[base] - 1)
        peers = "; ".join(f"{k} {100 * (t / times[base] - 1):+.1f} %" for k, t in times.items()
                          if k not in (base, "ours (same)", "ours (previous)"))
        print(f"  overhead over {base}: ours {over:+.1f} % (same), {over_p:+.1f} % (previous); {peers}")


def spike_counts(cur: torch.Tensor, label: str) -> None:
    runners = neuron_runners(tuple(cur.shape))
    with torch.no_grad():
        counts = {name: float(run(cur).sum()) for name, run in runners.items() if "cur[t]" not in name}
    same, prev = counts["ours (same)"], counts["ours (previous)"]
    print(f"  spikes on {label}: same {same:.0f}, previous {prev:.0f} "
          f"({100 * (prev / same - 1):+.2f} %); snntorch {counts['snntorch Leaky']:.0f}, "
          f"spikingjelly {counts[next(k for k in counts if 'spikingjelly' in k)]:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--all", action="store_true",
                        help="also time the O(T^2)-backward runners at the full T of (b) (minutes)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.quick:
        ga, gn = (10, 8, 128), (200, 8, 64)
    else:
        ga, gn = (100, 64, 1024), (2000, 32, 256)
    t_a, cur_a = bench_gemm(*ga, args.repeat)
    report(f"(a) GEMM-bound: Linear({ga[2]}->{ga[2]}) + LIF, batch {ga[1]}, T={ga[0]}, fwd+bwd",
           t_a, base="Linear alone")
    slow = ("snntorch Leaky, cur[t]", "spikingjelly LIFNode 'm'")
    t_b, cur_b = bench_neuron(*gn, args.repeat, skip=() if args.all else slow)
    report(f"(b) neuron-bound: {gn[2]} neurons, batch {gn[1]}, T={gn[0]}, fwd+bwd", t_b)
    short = (gn[0] // 10, gn[1], gn[2])
    t_c, _ = bench_neuron(*short, args.repeat)
    report(f"(b') the same at T={short[0]} (every runner; the O(T^2) ones are too slow at "
           f"T={gn[0]} unless --all)", t_c)
    print("\nreset timing, same input:")
    spike_counts(cur_a, "(a)")
    spike_counts(cur_b, "(b)")


if __name__ == "__main__":
    main()
