"""`screenrecall models export | verify | list` and `screenrecall embed`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screenrecall import paths
from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    from screenrecall.config import Config

EXPORT_EXTRA_HINT = (
    "exporting needs the export extra: pip install torch==2.13.0 (a CPU wheel; unpinned torch pulls a "
    "multi-GB CUDA build), then pip install 'screenrecall[export]'"
)


def register(commands: Any) -> None:
    models = commands.add_parser("models", help="make, check and list model bundles")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    export = sub.add_parser("export", help="convert a CLIP checkpoint into a model bundle (needs the export extra)")
    export.add_argument("model_id", nargs="?", help="Hugging Face model id (default openai/clip-vit-base-patch32)")
    export.add_argument("--from-dir", type=Path, help="convert a local checkpoint saved with save_pretrained (offline)")
    export.add_argument("--out", type=Path, help="bundle dir (default: the default bundle location)")
    precision = export.add_mutually_exclusive_group()
    precision.add_argument(
        "--int8-weights",
        action="store_true",
        help="weight-only INT8 for both encoders, the default: no calibration, about half the memory on "
        "a CPU; FP16 is kept if the embeddings drift (mean cosine to FP16 below 0.99)",
    )
    precision.add_argument("--fp16", action="store_true", help="keep FP16 weights (twice the memory on a CPU)")
    precision.add_argument("--int8", action="store_true", help="quantize the image encoder to INT8 with NNCF")
    export.add_argument("--calibration", type=Path, help="folder of screenshots to calibrate INT8 on")
    export.add_argument("--calibration-limit", type=int, default=300, help="most calibration images used")
    export.set_defaults(handler=_export)

    verify = sub.add_parser("verify", help="check hashes, compile both encoders, run a self-test")
    verify.add_argument("dir", type=Path, nargs="?", help="bundle dir (default: model.path)")
    verify.set_defaults(handler=_verify)

    listing = sub.add_parser("list", help="list installed bundles")
    listing.set_defaults(handler=_list)

    embed = commands.add_parser("embed", help="print the embedding of an image or a text as JSON")
    what = embed.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", type=Path, help="image file")
    what.add_argument("--text", help="text")
    embed.add_argument("--model", type=Path, help="bundle dir (default: model.path)")
    embed.set_defaults(handler=_embed)


def _export(args: argparse.Namespace, config: Config) -> int:
    if args.int8 and args.calibration is None:
        raise ScreenrecallError("--int8 needs --calibration DIR (a folder of screenshots)")
    try:
        from screenrecall.encode import export as ex
    except ImportError as exc:
        raise ScreenrecallError(f"{EXPORT_EXTRA_HINT} ({exc})") from None
    calibration = []
    if args.int8:
        calibration = ex.load_calibration(args.calibration, args.calibration_limit, _reader(config))
        if not calibration:
            raise ScreenrecallError(f"no readable images in {args.calibration}")
    out = args.out or paths.default_model_dir()
    request = ex.ExportRequest(
        model_id=args.model_id,
        from_dir=args.from_dir,
        int8=args.int8,
        calibration=calibration,
        int8_weights=not (args.fp16 or args.int8),
    )
    manifest = ex.export(request, out)
    print(f"bundle written to {out} ({manifest.model_id}, {manifest.embedding_dim}-d, {manifest.precision['vision']})")
    if manifest.int8_cosine_vs_fp16 is not None:
        on = f"{len(calibration)} calibration images" if calibration else "4 synthetic images"
        print(f"INT8 vs FP16 mean cosine on {on}: {manifest.int8_cosine_vs_fp16:.4f}")
        if manifest.precision["vision"] == "fp16":
            print(f"kept FP16 weights: INT8 ones drift too far from them (mean cosine below {ex.MIN_COSINE})")
    return _verify_dir(out, config)


def _verify(args: argparse.Namespace, config: Config) -> int:
    return _verify_dir(args.dir or config.model_dir(), config)


def _verify_dir(root: Path, config: Config) -> int:
    from screenrecall.encode.runtime import load_runtime, self_test

    runtime = load_runtime(config.model, root)  # checks hashes, compiles the image encoder
    print(f"{root}: hashes OK; image encoder compiled on {runtime.executing_on}")
    for line in self_test(runtime):  # compiles the text encoder too
        print(f"{root}: {line}")
    print(f"{root}: OK")
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.encode.bundle import Bundle, list_bundles

    found = list_bundles(paths.models_dir())
    extra = config.model_dir()
    if extra.parent != paths.models_dir():
        found += [item for item in list_bundles(extra.parent) if isinstance(item, Bundle) and item.root == extra]
    if not found:
        print(f"no bundles under {paths.models_dir()}; make one with: screenrecall models export")
        return 0
    for item in found:
        if isinstance(item, Bundle):
            m = item.manifest
            mark = "*" if item.root == config.model_dir() else " "
            vision = m.precision.get("vision")
            print(f"{mark} {item.root}  {m.model_id}  {m.embedding_dim}-d  vision {vision}  {m.created_at}")
        else:
            print(f"  (not a bundle) {item}")
    return 0


def _embed(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.encode.letterbox import letterbox
    from screenrecall.encode.runtime import load_runtime

    runtime = load_runtime(config.model, args.model or config.model_dir(), check_hashes=False)
    if args.text is not None:
        embedding = runtime.text_encoder.encode(args.text)
    else:
        pixels = _reader(config)(args.image)
        result = runtime.image_encoder(lambda _t, _e: None, lambda _t, _e: None).encode_batch(
            [letterbox(pixels, runtime.image_side)]
        )[0]
        if isinstance(result, Exception):
            raise ScreenrecallError(f"{args.image}: {result}")
        embedding = result
    json.dump({"dim": int(embedding.size), "embedding": [round(float(x), 7) for x in embedding]}, sys.stdout)
    print()
    return 0


def _reader(config: Config) -> Any:
    from screenrecall.capture.untrusted_image import load_image, pillow_formats

    formats = pillow_formats(config.watch.extensions)

    def read(path: Path) -> Any:
        return load_image(path, max_pixels=config.watch.max_image_pixels, formats=formats)

    return read
