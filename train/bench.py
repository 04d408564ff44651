"""`python -m train.bench`: wall time to first reach a test accuracy (default 98.14 %, the tutorial's).

    python -m train.bench                    # plain recipe, this machine's CPU threads
    python -m train.bench --target 98.5 --json

The whole training set lives in memory as one float tensor (no DataLoader, no per-sample transforms);
batches are index slices. The clock starts when the data is in memory and the model is built, and
includes the test evaluations done every `--eval-every` iterations to notice the target (one pass over
the 10k test digits each). The recipe is the trainer's (Adam, warm-up, cosine, same model and input
scaling) without augmentation, which only pays off over many epochs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from train.data import ENV_VAR, DataError, load_mnist
from train.mnist_spec import standardise
from train.model import FCL
from train.trainer import TrainConfig, accuracy, lr_at, split


def run(data, target: float, epochs: int, batch: int, lr: float, eval_every: int, seed: int,
        device: str = "cpu") -> dict:
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, augment=False, styles=0, val_size=0, seed=seed,
                      device=device)
    tx, ty, _, _, test_x, test_y = split(data, cfg, torch.device(device))
    torch.manual_seed(seed)
    g = torch.Generator(device=device).manual_seed(seed)
    model = FCL().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = math.ceil(len(tx) / batch)
    total = steps * epochs
    checks = []
    t0 = time.perf_counter()
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(len(tx), generator=g, device=device)
        for i in range(steps):
            idx = perm[i * batch : (i + 1) * batch]
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, steps // 2, lr)
            loss = F.cross_entropy(model(standardise(tx[idx])), ty[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % eval_every == 0 or step == total:
                acc = accuracy(model, test_x, test_y)
                elapsed = time.perf_counter() - t0
                checks.append({"iteration": step, "epoch": round(step / steps, 2), "test_acc": acc,
                               "seconds": round(elapsed, 2)})
                if acc >= target:
                    return {"reached": True, "seconds": round(elapsed, 2), "iteration": step,
                            "epoch": round(step / steps, 2), "test_acc": acc, "checks": checks}
    return {"reached": False, "seconds": round(time.perf_counter() - t0, 2), "checks": checks}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help=f"folder with MNIST/raw/ (default: ${ENV_VAR}, else ~/.cache/digitcam)")
    p.add_argument("--target", type=float, default=98.14)
    p.add_argument("--epochs", type=int, default=4, help="the schedule's length (it stops at the target)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--eval-every", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        data = load_mnist(args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    r = run(data, args.target, args.epochs, args.batch_size, args.lr, args.eval_every, args.seed, args.device)
    r.update(threads=torch.get_num_threads(), device=args.device, target=args.target)
    if args.json:
        print(json.dumps(r, indent=2))
    elif r["reached"]:
        print(f"reached {r['test_acc']:.2f} % test accuracy (target {args.target} %) after {r['seconds']:.1f} s, "
              f"iteration {r['iteration']} (epoch {r['epoch']}), {r['threads']} CPU threads")
    else:
        print(f"did not reach {args.target} % in {args.epochs} epochs ({r['seconds']:.1f} s); "
              f"best {max(c['test_acc'] for c in r['checks']):.2f} %")
    return 0 if r["reached"] else 1


if __name__ == "__main__":
    sys.exit(main())
