# A 2023 notebook's habits: checkpoints under /kaggle/working and /kaggle/tmp, and a
# `device` parameter. Prints whether the folders were there and empty, and its device.
import os


def unlearning(net, retain_loader, forget_loader, val_loader, device=None):
    print(f"DEVICE {device}", flush=True)
    folders = ("/kaggle/working", "/kaggle/tmp")
    if not all(os.path.isdir(folder) for folder in folders):
        print("KAGGLE missing", flush=True)
        return
    fresh = not any(os.listdir(folder) for folder in folders)
    for folder in folders:
        with open(os.path.join(folder, "checkpoint.bin"), "wb") as handle:
            handle.write(b"\0" * 1024)
    print(f"KAGGLE {'fresh' if fresh else 'left over'}", flush=True)
