"""graceperiod-keys: create the Ed25519 keys that sign email links (the notifier's) or actor
assertions (the gateway's), and publish their public half.

    graceperiod-keys generate --dir /etc/graceperiod/link-keys [--kid ID] [--prefix link|actor] [--jwks-out FILE]
    graceperiod-keys public --dir /etc/graceperiod/link-keys [--format jwks|pem] [--out FILE]

Rotation of the link keys (no link breaks; the actor-assertion keys rotate the same way, with
the gateway as the signer and the worker services as the verifiers, docs/security.md):

1. ``graceperiod-keys generate --dir NEW_DIR`` (or straight into a staging copy of the key
   directory) and give the printed public JWKS to the gateway, *added* to the keys it already
   trusts; deploy the gateway.
2. Add the new private key to the notifier's key directory (or secret) and restart it: the new
   key sorts last and signs from then on.
3. Once every link signed with the old key has expired (its purchase's last window has closed),
   remove the old public key from the gateway and the old private key from the notifier.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from graceperiod.runtime.signing_keys import KeyConfigurationError, KeyRing, generate, public_jwk, public_pem


def _write(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _generate(args: argparse.Namespace) -> None:
    key = generate(args.dir, args.kid, prefix=args.prefix)
    sys.stdout.write(json.dumps({"keys": [public_jwk(key)]}, indent=2) + "\n")
    sys.stderr.write(f"wrote {args.dir / (key.kid + '.pem')}\n")
    if args.jwks_out:
        _write(args.jwks_out, json.dumps(KeyRing.load(directory=args.dir).jwks(), indent=2) + "\n")
    if args.public_pem_out:
        _write(args.public_pem_out, public_pem(key))


def _public(args: argparse.Namespace) -> None:
    ring = KeyRing.load(directory=args.dir)
    if args.format == "jwks":
        _write(args.out, json.dumps(ring.jwks(), indent=2) + "\n")
    else:
        _write(args.out, "".join(f"# kid: {kid}\n{pem}" for kid, pem in ring.public_pems().items()))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graceperiod-keys", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="create a new signing key and print its public JWKS")
    gen.add_argument("--dir", type=Path, required=True, help="key directory (the key is written as <kid>.pem)")
    gen.add_argument("--kid", help="key id (default: <prefix>-<UTC timestamp>, so newer ids sort last)")
    gen.add_argument("--prefix", default="link", help="prefix of the default key id (link, actor)")
    gen.add_argument("--jwks-out", type=Path, help="also write the public JWKS of every key in --dir here")
    gen.add_argument("--public-pem-out", type=Path, help="also write the new public key as PEM here")
    gen.set_defaults(run=_generate)
    pub = commands.add_parser("public", help="print the public keys of a key directory for the gateway")
    pub.add_argument("--dir", type=Path, required=True)
    pub.add_argument("--format", choices=("jwks", "pem"), default="jwks")
    pub.add_argument("--out", type=Path, help="write to this file instead of standard output")
    pub.set_defaults(run=_public)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (KeyConfigurationError, FileExistsError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
