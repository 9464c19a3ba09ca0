#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""`graft-cli models`, `models import`, `models check` and `pretrain` as a user runs them:
the bundled model first in the catalog with its card; a short run of the recipe landing
in the user's own models folder and shown by `models` with its accuracy; torchvision and
timm files of the same ResNet imported (architecture recognised) and a damaged one refused
with the tensor named; a hub model fetched from a loopback mirror of the hub (its SHA-256
from the hub's Git LFS header, a wrong one refused) and imported from the cache; the
compatibility check for the demo task.

usage: check_cli_models.py GRAFT_CLI
Exit status 0 when everything holds, 1 otherwise, 77 (skipped) without PyTorch or
Fashion-MNIST unless GRAFT_TEST_REQUIRE_TORCH=1."""

import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

REQUIRE = os.environ.get("GRAFT_TEST_REQUIRE_TORCH") == "1"
try:
    import torch
    import torchvision
except ImportError as e:
    print(f"PyTorch is missing: {e}")
    sys.exit(1 if REQUIRE else 77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import gen_timm  # noqa: E402
import safetensors_io  # noqa: E402

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
BUNDLED = "graft-fmnist-resnet10"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


def run(cli, env, *args, expect=0):
    result = subprocess.run([cli, "--device=cpu", *args], env=env, capture_output=True,
                            text=True, timeout=600)
    print(f"$ graft-cli {' '.join(args)}  -> {result.returncode}")
    if result.returncode != expect:
        print(result.stdout[-3000:])
        print(result.stderr[-3000:])
        failures.append(f"graft-cli {' '.join(args)} exited {result.returncode}, not {expect}")
    return result


class Mirror(http.server.ThreadingHTTPServer):
    """A hub with Hugging Face's layout for one file: /timm/NAME/resolve/main/model.safetensors
    answers 302 to /blob with the file's SHA-256 in X-Linked-ETag (or a wrong one)."""

    def __init__(self, name, blob):
        self.name, self.blob, self.wrong = name, blob, False
        super().__init__(("127.0.0.1", 0), MirrorHandler)


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        if self.path == f"/timm/{server.name}/resolve/main/model.safetensors":
            sha = "0" * 64 if server.wrong else hashlib.sha256(server.blob).hexdigest()
            self.send_response(302)
            self.send_header("Location", "/blob")
            self.send_header("X-Linked-ETag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(server.blob)))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/blob":
            self.send_response(200)
            self.send_header("Content-Length", str(len(server.blob)))
            self.end_headers()
            self.wfile.write(server.blob)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


def fetch_from_mirror(cli, env, tmp):
    name = "mobilenetv3_small_100.lamb_in1k"
    torch.manual_seed(5)
    model = torchvision.models.mobilenet_v3_small()
    path = os.path.join(tmp, "timm-mnv3.safetensors")
    safetensors_io.save(gen_timm.timm_state("mobilenet_v3_small", model), path)
    with open(path, "rb") as f:
        mirror = Mirror(name, f.read())
    thread = threading.Thread(target=mirror.serve_forever, daemon=True)
    thread.start()
    env = dict(env, GRAFT_HUB_URL=f"http://127.0.0.1:{mirror.server_address[1]}")
    try:
        mirror.wrong = True
        out = run(cli, env, "models", "fetch", name, expect=1)
        check("SHA-256" in out.stderr or "checksum" in out.stderr,
              f"a wrong checksum was not refused:\n{out.stderr}")
        mirror.wrong = False
        out = run(cli, env, "models", "fetch", name)
        check("SHA-256 verified" in out.stdout, f"fetch printed:\n{out.stdout}")
        entry = json.loads(run(cli, env, "--json", "models", name).stdout or "[{}]")[0]
        check(entry.get("available") is True, f"the fetched model is not available: {entry}")
        cached = entry.get("weights", "")
        check(cached.startswith(env["XDG_CACHE_HOME"]), f"the weights went to {cached}")
        out = run(cli, env, "--json", "models", "import", cached, "--name", "mine-mnv3")
        if out.returncode == 0:
            imported = json.loads(out.stdout)
            check(imported["arch"] == "mobilenet_v3_small" and imported["naming"] == "timm" and
                  imported["reshaped"] == 1, f"the fetched file imported as {imported}")
    finally:
        mirror.shutdown()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cli = sys.argv[1]
    if not os.path.isdir(FASHION_MNIST):
        print("Fashion-MNIST is missing (package dataset-fashion-mnist)")
        sys.exit(1 if REQUIRE else 77)

    with tempfile.TemporaryDirectory(prefix="graft-models-") as tmp:
        env = dict(os.environ)
        env["XDG_DATA_HOME"] = os.path.join(tmp, "data")
        env["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
        env.pop("GRAFT_MODELS_DIR", None)

        # The catalog: the bundled model first, with its card.
        listing = json.loads(run(cli, env, "models", "--json").stdout or "[]")
        check(len(listing) >= 9, f"the catalog lists {len(listing)} models")
        if listing:
            first = listing[0]
            check(first["name"] == BUNDLED and first["source"] == "bundled",
                  f"the first entry is {first['name']} ({first['source']})")
            check(first["source_test_accuracy"] >= 0.90,
                  f"the bundled model's accuracy is {first['source_test_accuracy']}")
            check(first["available"], "the bundled weights are missing")
            check(first["class_names"] == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"],
                  f"the bundled classes are {first.get('class_names')}")
            check("pretrain" in first.get("command", ""), "the card has no recipe command")
            hub = [e for e in listing if e["source"] == "download"]
            check(len(hub) == 8 and all(e["url"].startswith("https://") for e in hub),
                  "the hub entries lack addresses")
        text = run(cli, env, "models", BUNDLED).stdout
        check("source test accuracy: " in text and "recipe: graft-cli" in text,
              f"`models {BUNDLED}` does not show the card:\n{text}")

        # A short run of the recipe: into the user's models folder, then in the catalog.
        out = run(cli, env, "pretrain", "--epochs", "1", "--limit", "1024", "--batch-size", "64")
        check("Source test accuracy:" in out.stdout, f"pretrain printed:\n{out.stdout}")
        listing = json.loads(run(cli, env, "models", "--json").stdout or "[]")
        mine = [e for e in listing if e["name"] == BUNDLED]
        check(len(mine) == 1 and mine[0]["source"] == "local",
              "the model just trained does not replace the bundled one in the catalog")
        if mine:
            check("--limit 1024" in mine[0].get("command", ""), "the card's command is not the one run")
            check(0.0 <= mine[0]["source_test_accuracy"] <= 1.0, "no accuracy in the new card")

        # Imports: torchvision's and timm's files of the same ResNet (timm's ResNet names are
        # torchvision's), the architecture recognised; a damaged file refused by name.
        torch.manual_seed(3)
        model = torchvision.models.resnet18(num_classes=7)
        state = {k: v for k, v in model.state_dict().items()}
        tv_path = os.path.join(tmp, "tv-resnet18.safetensors")
        safetensors_io.save(state, tv_path)
        timm_path = os.path.join(tmp, "timm-resnet18.safetensors")
        safetensors_io.save({k: v for k, v in state.items() if "num_batches_tracked" not in k},
                            timm_path, {"format": "pt"})
        for path, name in ((tv_path, "mine-tv"), (timm_path, "mine-timm")):
            out = run(cli, env, "--json", "models", "import", path, "--name", name)
            if out.returncode == 0:
                entry = json.loads(out.stdout)
                check(entry["arch"] == "resnet18" and entry["classes"] == 7 and
                      entry["in_channels"] == 3, f"import of {path} gave {entry}")
        bad = dict(state)
        bad["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
        del bad["bn1.running_var"]
        bad_path = os.path.join(tmp, "bad.safetensors")
        safetensors_io.save(bad, bad_path)
        out = run(cli, env, "models", "import", bad_path, "--arch", "resnet18", expect=1)
        check("layer2.0.conv1.weight" in out.stderr and "bn1.running_var" in out.stderr,
              f"the damaged file's error does not name the tensors:\n{out.stderr}")

        fetch_from_mirror(cli, env, tmp)

        # The compatibility check on the demo task.
        demo = os.path.join(tmp, "demo")
        run(cli, env, "demo-dataset", demo, "--per-class", "2")
        out = run(cli, env, "--json", "models", "check", "resnet18.a1_in1k", "--dataset", demo)
        if out.returncode == 0:
            report = json.loads(out.stdout)
            check(report["classes"] == 5 and report["channels"] == 1 and report["image_size"] == 28,
                  f"the demo task was read as {report}")
            texts = " ".join(line["text"] for line in report["adaptations"])
            check("summed over the colour channels" in texts and "1000 → 5" in texts,
                  f"the check does not say what changes: {texts}")

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all good")


if __name__ == "__main__":
    main()
