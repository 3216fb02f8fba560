"""Builds the stand-in images offline, cached at three levels.

1. A debootstrap of Debian bookworm with every package of contracts.PACKAGES, kept as a tarball
   named by the hash of the package set (``<cache>/images/debootstrap-<hash>.tar``) and imported
   once as ``topoform-e2e/debootstrap:<hash>``.
2. The shared base ``topoform-e2e/stand-in-base:<hash>``: that image plus stand_in/prepare-base.sh,
   run by ``docker build`` with no network.
3. Each tag the Plan pins (``postgres:16-bookworm``, ...): a ``docker build`` FROM the base with only
   COPY / ENV / USER / WORKDIR / VOLUME / STOPSIGNAL / ENTRYPOINT / CMD (and, for a program the
   official image lacks, one ``RUN rm``), so all tags share the base's layers.

Every image carries the label ``org.topoform.e2e.recipe`` with the hash of everything that made it;
a tag whose label matches is not rebuilt. ``<cache>`` is engine.cache_root().
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import docker
import docker.errors

from ..engine import cache_root
from .contracts import BASE_PATH, MIRROR, PACKAGES, SUITE, Contract, UnknownImage, contract_for

HERE = Path(__file__).resolve().parent
STAND_IN = HERE / "stand_in"
LABEL = "org.topoform.e2e.recipe"
DEBOOTSTRAP_TIMEOUT = 1800  # seconds: a cold download of ~300 packages on a slow mirror
LOG_TAIL_LINES = 25

Log = Callable[[str], None]


class ImageBuildError(Exception):
    """A stand-in image could not be built; the message says which step failed and why."""


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def images_dir() -> Path:
    return cache_root() / "images"


def debootstrap_hash() -> str:
    """Names the debootstrap tarball: what debootstrap is asked for, nothing else."""
    return _digest(json.dumps({"suite": SUITE, "mirror": MIRROR, "variant": "minbase", "packages": PACKAGES}))


def _stand_in_bytes(name: str) -> bytes:
    return (STAND_IN / name).read_bytes()


BASE_FILES = ("prepare-base.sh", "mysql-family.sh", "redis-family.sh")  # copied into the base build as /tmp/stand-in/


def base_dockerfile(debootstrap_ref: str) -> str:
    return "\n".join([
        f"FROM {debootstrap_ref}",
        f"ENV PATH={BASE_PATH}",
        "COPY stand-in /tmp/stand-in",
        "RUN sh /tmp/stand-in/prepare-base.sh",
    ]) + "\n"


def base_hash() -> str:
    ref = f"topoform-e2e/debootstrap:{debootstrap_hash()}"
    return _digest(base_dockerfile(ref), *(_stand_in_bytes(name) for name in BASE_FILES))


def base_ref() -> str:
    return f"topoform-e2e/stand-in-base:{base_hash()}"


def _json(words: Iterable[str]) -> str:
    return json.dumps(list(words))


def tag_dockerfile(contract: Contract) -> str:
    """The Dockerfile of one tag: the contract's runtime settings on top of the shared base."""
    lines = [f"FROM {base_ref()}"]
    for index, path in enumerate(contract.files):
        lines.append(f"COPY file{index} {path}")
    if contract.hide:
        lines.append("RUN rm -f " + " ".join(contract.hide))
    for key, value in contract.env.items():
        lines.append(f"ENV {key}={json.dumps(value)}")
    directives = (("USER", contract.user), ("WORKDIR", contract.workdir),
                  ("VOLUME", contract.volumes and _json(contract.volumes)), ("STOPSIGNAL", contract.stopsignal),
                  ("ENTRYPOINT", contract.entrypoint and _json(contract.entrypoint)),
                  ("CMD", contract.cmd and _json(contract.cmd)))
    lines += [f"{directive} {value}" for directive, value in directives if value]
    return "\n".join(lines) + "\n"


def tag_hash(contract: Contract) -> str:
    return _digest(tag_dockerfile(contract), *(_stand_in_bytes(name) for name in contract.files.values()))


def _labelled(dockerfile: str, recipe: str, what: str) -> str:
    labels = {LABEL: recipe, "org.topoform.e2e.stand-in": what}
    return dockerfile + "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()) + "\n"


def _context(dockerfile: str, files: dict[str, bytes]) -> io.BytesIO:
    """A build context tar: the Dockerfile and `files` (mode 0755, root-owned)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644 if name == "Dockerfile" else 0o755
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _has_recipe(client: docker.DockerClient, ref: str, recipe: str) -> bool:
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(LABEL) == recipe


def _build(client: docker.DockerClient, ref: str, dockerfile: str, files: dict[str, bytes]) -> None:
    try:
        client.images.build(fileobj=_context(dockerfile, files), custom_context=True, tag=ref, rm=True,
                            forcerm=True, pull=False, network_mode="none")
    except docker.errors.BuildError as exc:
        lines = [str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in exc.build_log]
        tail = "\n".join(line for line in lines if line)[-4000:]
        raise ImageBuildError(f"docker build of {ref} failed: {exc.msg}\n{tail}") from exc
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"docker build of {ref} failed: {exc}") from exc


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return sorted((p for p in points if (p + "/").startswith(prefix)), reverse=True)


def _remove_tree(root: Path) -> None:
    """Remove a debootstrap tree, first unmounting what a failed debootstrap left mounted in it."""
    if not root.exists():
        return
    for point in _mounts_under(root):
        subprocess.run(["umount", "-l", point], capture_output=True)
    if _mounts_under(root):
        raise ImageBuildError(f"{root} still has mounts ({', '.join(_mounts_under(root))}); not removing it")
    shutil.rmtree(root)


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError:
        return "(no log)"


def make_debootstrap_tarball(tarball: Path, log: Log) -> None:
    """debootstrap the package set into a temporary tree and tar it (owners kept as numbers)."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError("debootstrap is not installed: apt-get install debootstrap")
    tree = tarball.with_suffix(".tree")
    logfile = tarball.with_suffix(".log")
    _remove_tree(tree)
    log(f"debootstrap {SUITE} with {len(PACKAGES)} packages into {tree} (log {logfile})")
    started = time.monotonic()
    with open(logfile, "wb") as out:
        try:
            result = subprocess.run([debootstrap, "--variant=minbase", "--include=" + ",".join(PACKAGES),
                                     SUITE, str(tree), MIRROR], stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, timeout=DEBOOTSTRAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _remove_tree(tree)
            raise ImageBuildError(f"debootstrap took over {DEBOOTSTRAP_TIMEOUT}s; log {logfile}:\n{_tail(logfile)}")
    if result.returncode != 0:
        _remove_tree(tree)
        raise ImageBuildError(f"debootstrap failed (exit {result.returncode}); log {logfile}:\n{_tail(logfile)}")
    log(f"debootstrap done in {time.monotonic() - started:.0f}s; writing {tarball}")
    partial = tarball.with_suffix(".partial")
    # Read the tree only through tar: its var/run is an absolute symlink to the host's /run.
    tarred = subprocess.run(["tar", "-C", str(tree), "--numeric-owner", "-cf", str(partial), "."],
                            capture_output=True, text=True)
    _remove_tree(tree)
    if tarred.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ImageBuildError(f"tar of the debootstrap tree failed: {tarred.stderr.strip()[-2000:]}")
    partial.rename(tarball)


def ensure_debootstrap_image(client: docker.DockerClient, log: Log) -> str:
    digest = debootstrap_hash()
    ref = f"topoform-e2e/debootstrap:{digest}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(ref)
        return ref
    tarball = images_dir() / f"debootstrap-{digest}.tar"
    if not tarball.exists():
        make_debootstrap_tarball(tarball, log)
    log(f"importing {tarball.name} as {ref}")
    started = time.monotonic()
    try:
        client.api.import_image_from_file(str(tarball), repository="topoform-e2e/debootstrap", tag=digest)
        client.images.get(ref)
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"docker import of {tarball} failed: {exc}") from exc
    log(f"imported in {time.monotonic() - started:.0f}s")
    return ref


def ensure_base(client: docker.DockerClient, log: Log) -> str:
    ref = base_ref()
    recipe = base_hash()
    if _has_recipe(client, ref, recipe):
        return ref
    debootstrap_ref = ensure_debootstrap_image(client, log)
    log(f"building {ref}")
    started = time.monotonic()
    files = {f"stand-in/{name}": _stand_in_bytes(name) for name in BASE_FILES}
    _build(client, ref, _labelled(base_dockerfile(debootstrap_ref), recipe, "shared base of the stand-ins"), files)
    log(f"built {ref} in {time.monotonic() - started:.0f}s")
    return ref


def build_tag(client: docker.DockerClient, tag: str, contract: Contract) -> None:
    files = {f"file{index}": _stand_in_bytes(name) for index, name in enumerate(contract.files.values())}
    what = f"{contract.stand_in}, standing in for {tag} (docs/IMAGES.md)"
    _build(client, tag, _labelled(tag_dockerfile(contract), tag_hash(contract), what), files)


@contextlib.contextmanager
def _build_lock():
    """One builder at a time (two test sessions must not debootstrap or tag at once)."""
    images_dir().mkdir(parents=True, exist_ok=True)
    with open(images_dir() / "build.lock", "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_images(client: docker.DockerClient, tags: Iterable[str], log: Log | None = None) -> list[str]:
    """Make every tag in `tags` exist on the engine as its current stand-in; returns the tags built.

    Raises ImageBuildError for a tag with no recipe (before building anything) or a failed build.
    """
    say: Log = log or (lambda message: None)
    try:
        wanted = {tag: contract_for(tag) for tag in sorted(set(tags))}
    except UnknownImage as exc:
        raise ImageBuildError(exc.args[0]) from None
    stale = [tag for tag, contract in wanted.items() if not _has_recipe(client, tag, tag_hash(contract))]
    if not stale:
        return []
    with _build_lock():
        stale = [tag for tag in stale if not _has_recipe(client, tag, tag_hash(wanted[tag]))]
        if stale:
            ensure_base(client, say)
        for tag in stale:
            started = time.monotonic()
            build_tag(client, tag, wanted[tag])
            say(f"built {tag} in {time.monotonic() - started:.1f}s")
    return stale
