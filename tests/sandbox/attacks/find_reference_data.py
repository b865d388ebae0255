# Attack: hunt for test labels, retrained-model outputs, scorer code or anything beyond the
# retain/forget/val tensors: search the job folder, the image and every mount.
# expect: ok
import os

from safetensors import safe_open

JOB_FILES = {
    "config.json",
    "model.json",
    "original.safetensors",
    "data.safetensors",
    "submission",
    "ready",
}
DATA_KEYS = {
    f"{split}_{part}" for split in ("retain", "forget", "val") for part in ("inputs", "targets")
}
SUSPICIOUS = ("test", "retrain", "reference", "score", "label", "logit", "secret")
# registry.py: the registries' names only (each entry's home is imported on first use).
HARNESS = {"__init__.py", "errors.py", "registry.py", "models.py", "checkpoint.py", "data", "runs"}
# The batch interfaces and loaders only: no data set loader.
HARNESS_DATA = {"__init__.py", "batches.py", "interfaces.py"}


def probe():
    escapes = []
    extra = sorted(set(os.listdir("/job")) - JOB_FILES)
    if extra:
        escapes.append(f"unexpected job files {extra}")
    with safe_open("/job/data.safetensors", "pt") as handle:
        keys = set(handle.keys())
    if keys != DATA_KEYS:
        escapes.append(f"unexpected data keys {sorted(keys - DATA_KEYS)}")
    modules = {name for name in os.listdir("/opt/sandbox/harness") if name != "__pycache__"}
    if modules - HARNESS:
        escapes.append(f"unexpected harness code in the image: {sorted(modules - HARNESS)}")
    data = {name for name in os.listdir("/opt/sandbox/harness/data") if name != "__pycache__"}
    if data - HARNESS_DATA:
        escapes.append(f"unexpected data code in the image: {sorted(data - HARNESS_DATA)}")
    for root in ("/job", "/opt/sandbox", "/out", "/tmp", "/mnt", "/media", "/srv", "/opt"):
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("venv", "__pycache__")]
            for name in files:
                if any(word in name.lower() for word in SUSPICIOUS) and "submission" not in folder:
                    escapes.append(f"found {folder}/{name}")
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
