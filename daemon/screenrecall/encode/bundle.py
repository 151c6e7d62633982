"""What a model bundle is on disk: the three IRs, their manifest, and the checks a bundle must pass."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from screenrecall.errors import ScreenrecallError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
VISION_XML = "vision.xml"
TEXT_XML = "text.xml"
TOKENIZER_XML = "tokenizer.xml"
IR_FILES = (VISION_XML, "vision.bin", TEXT_XML, "text.bin", TOKENIZER_XML, "tokenizer.bin")
EXPORT_HINT = "make one with: screenrecall models export  (or point model.path at an existing bundle)"


class BundleError(ScreenrecallError):
    """A bundle is missing, incomplete, corrupted or not what its manifest says."""


@dataclass(frozen=True)
class Manifest:
    model_id: str
    revision: str
    embedding_dim: int
    image_size: int
    context_length: int
    pad_token_id: int
    precision: dict[str, str]  # per IR: "fp16" or "int8"
    exporter: dict[str, str]  # package -> version that made the bundle
    files: dict[str, str]  # file name -> sha256
    created_at: str = ""
    int8_cosine_vs_fp16: float | None = None
    format: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT_VERSION:
                raise BundleError(f"{where}: manifest format {data.get('format')!r}, expected {FORMAT_VERSION}")
            return cls(**data)
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise BundleError(f"{where}: unreadable manifest: {exc}") from None


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: Manifest

    @property
    def vision_xml(self) -> Path:
        return self.root / VISION_XML

    @property
    def text_xml(self) -> Path:
        return self.root / TEXT_XML

    @property
    def tokenizer_xml(self) -> Path:
        return self.root / TOKENIZER_XML


def open_bundle(root: Path) -> Bundle:
    """Reads the manifest and checks every IR file is present (hashes: see verify_hashes)."""
    if not root.is_dir():
        raise BundleError(f"no model bundle at {root}; {EXPORT_HINT}")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{root} is not a model bundle (no {MANIFEST}); {EXPORT_HINT}")
    manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"), manifest_path)
    missing = [name for name in IR_FILES if not (root / name).is_file()]
    if missing:
        raise BundleError(f"bundle {root} is incomplete, missing: {', '.join(missing)}; {EXPORT_HINT}")
    return Bundle(root, manifest)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_files(root: Path, names: tuple[str, ...] = IR_FILES) -> dict[str, str]:
    return {name: sha256_file(root / name) for name in names}


def verify_hashes(bundle: Bundle) -> None:
    """Raises BundleError naming every file whose content differs from the manifest."""
    expected = bundle.manifest.files
    unlisted = [name for name in IR_FILES if name not in expected]
    if unlisted:
        raise BundleError(f"manifest of {bundle.root} lists no hash for: {', '.join(unlisted)}")
    bad = [name for name, digest in hash_files(bundle.root).items() if digest != expected[name]]
    if bad:
        raise BundleError(
            f"bundle {bundle.root} is corrupted: {', '.join(bad)} differ from the manifest's sha256; "
            "re-export it with: screenrecall models export"
        )


def list_bundles(models_root: Path) -> list[Bundle | BundleError]:
    """Every sub-directory of models_root, as a bundle or as the reason it is not one."""
    if not models_root.is_dir():
        return []
    found: list[Bundle | BundleError] = []
    for child in sorted(p for p in models_root.iterdir() if p.is_dir()):
        try:
            found.append(open_bundle(child))
        except BundleError as exc:
            found.append(exc)
    return found
