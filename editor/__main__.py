"""The ``layerbrush`` command line (also ``python -m editor``).

    layerbrush [FILE ...]                        start the editor (files open in it)
    layerbrush --version
    layerbrush render PROJECT -o OUT.png [--model SOURCE]
    layerbrush export-layers PROJECT -o FOLDER
    layerbrush generate "PROMPT" -o OUT.png --model SOURCE [--size WxH] [--seed N]
    layerbrush fill PROJECT --mask MASK.png [--prompt P] -o OUT --model SOURCE
    layerbrush remove PROJECT --mask MASK.png [--negative OBJECT] -o OUT --model SOURCE
    layerbrush vary PROJECT [--strength S] [--mask MASK.png] [--prompt P] -o OUT --model SOURCE
    layerbrush expand PROJECT [--left N] [--top N] [--right N] [--bottom N] [--prompt P] -o OUT --model SOURCE

``render`` flattens a project with no display. Diffusion brush layers keep
their last rendered pixels; with ``--model`` the stale ones are re-rendered
first. The AI verbs add their layer (as the window's Layer > AI menu does), render it, and
write OUT: an .ora keeps the new layer (non-destructive), an image is the flattened result.
The GUI and the engine are imported only by the commands that use them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SUBCOMMANDS = ("render", "export-layers", "generate", "fill", "remove", "vary", "expand")
VERBS = ("fill", "remove", "vary", "expand")


def version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version as _version

        return _version("layerbrush")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerbrush",
        description="Layerbrush: a layered image editor with diffusion brushes. "
        "Without a command it starts the editor.",
    )
    p.add_argument("--version", action="version", version=f"layerbrush {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("render", help="flatten a project to an image (no display needed)")
    r.add_argument("project", help=".ora, .psd or image file")
    r.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif)")
    r.add_argument("--model", help="re-render stale diffusion layers with this model first "
                   "(demo, a hub id, a diffusers folder or a .safetensors file)")
    r.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (with --model)")
    r.add_argument("--rerender", action="store_true",
                   help="with --model: re-render every diffusion layer, not only the stale ones")
    r.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (WebP 100 = lossless)")

    e = sub.add_parser("export-layers", help="write every layer as a PNG into a folder")
    e.add_argument("project")
    e.add_argument("-o", "--output", required=True, help="folder (created if needed)")

    g = sub.add_parser("generate", help="generate a transparent PNG from a prompt")
    g.add_argument("prompt")
    g.add_argument("-o", "--output", required=True, help="output .png")
    g.add_argument("--model", required=True, help="demo, a hub id, a diffusers folder or a .safetensors file")
    g.add_argument("--size", default="512x512", help="WIDTHxHEIGHT (default 512x512)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--steps", type=int, default=20)
    g.add_argument("--guidance", type=float, default=7.0)
    g.add_argument("--negative", default="", help="negative prompt")
    g.add_argument("--quality", choices=("fast", "quality"), default="fast")
    g.add_argument("--weights", help="folder with the LayerDiffuse weight files")
    g.add_argument("--matte-fallback", action="store_true",
                   help="without LayerDiffuse weights, generate on grey and cut out (lower quality)")
    g.add_argument("--device", default="auto")

    helps = {"fill": "fill a masked area from a prompt (from its surroundings without one)",
             "remove": "remove what lies under a mask", "vary": "a variation (img2img) of the picture or a mask",
             "expand": "grow the canvas and generate the new area from the picture"}
    for verb in VERBS:
        v = sub.add_parser(verb, help=helps[verb])
        v.add_argument("project", help=".ora, .psd or image file")
        v.add_argument("-o", "--output", required=True, help="an .ora (keeps the new layer) or an image")
        v.add_argument("--model", required=True, help="demo, a hub id, a diffusers folder or a .safetensors file")
        v.add_argument("--device", default="auto")
        v.add_argument("--prompt", default="", help="what the area shows")
        v.add_argument("--seed", type=int, default=0)
        v.add_argument("--lora", action="append", default=[], metavar="FILE[:WEIGHT]",
                       help="a LoRA (.safetensors) for the new layer, weight 1 unless given; repeat for "
                            "several. Replaces the project's document LoRA list (saved in an .ora output). "
                            "Default: the project's list")
        if verb == "expand":
            for side in ("left", "top", "right", "bottom"):
                v.add_argument(f"--{side}", type=int, default=0, help=f"pixels added on the {side}")
            continue
        v.add_argument("--mask", required=verb != "vary",
                       help="greyscale image of the document's size: where to work (non-black)")
        v.add_argument("--negative", default="", help="negative prompt (for remove: what the object is)")
        v.add_argument("--strength", type=float, help="0..1 (default: the model's for this verb)")
        v.add_argument("--steps", type=int)
    return p


def _err(message: str) -> None:
    print(f"layerbrush: {message}", file=sys.stderr)


def _open_reporting(path):
    """Open a project; every warning (converted or left-out content) goes to stderr."""
    import warnings

    from editor import api

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # printed below, once each
        doc = api.open_document(path)
    for message in doc.warnings:
        _err(f"warning: {message}")
    return doc


def cmd_render(args) -> int:
    from editor import api

    doc = _open_reporting(args.project)
    stale = api.stale_brush_layers(doc)
    if args.rerender and not args.model:
        _err("--rerender needs --model (the model to render with)")
        return 2
    if (stale or args.rerender) and args.model:
        model = api.load_model(args.model, args.device)
        count = api.render_layers(doc, model, all_layers=args.rerender)
        print(f"rendered {count} diffusion layer(s)", file=sys.stderr)
    elif stale:
        _err(f"warning: {len(stale)} diffusion layer(s) are stale and keep their last render "
             "(pass --model to re-render them)")
    from editor.io.raster import save_image

    save_image(doc.render(), args.output, quality=args.quality)
    return 0


def cmd_export_layers(args) -> int:
    from editor import api

    paths = _open_reporting(args.project).export_layers(args.output)
    for path in paths:
        print(path)
    return 0


def cmd_generate(args) -> int:
    from editor.engine.rgba.cli import generate_command

    generate_command(
        args.prompt, args.output, args.model, size=args.size, seed=args.seed, steps=args.steps,
        guidance=args.guidance, negative_prompt=args.negative, quality=args.quality,
        weights_dir=args.weights, matte_fallback=args.matte_fallback, device=args.device,
        log=lambda text: print(text, file=sys.stderr),
    )
    return 0


def _read_mask(path, doc) -> "object":
    from editor.io.raster import load_image

    rgba = load_image(path)
    if rgba.shape[:2] != (doc.height, doc.width):
        raise ValueError(f"{path}: the mask is {rgba.shape[1]}x{rgba.shape[0]} pixels, "
                         f"the document {doc.width}x{doc.height}")
    grey = rgba[..., :3].max(axis=2)
    return ((grey > 127) & (rgba[..., 3] > 127)).astype("uint8") * 255


def parse_lora(text: str) -> tuple[str, float]:
    """``FILE[:WEIGHT]`` -> (FILE, WEIGHT); a colon that is not followed by a number (a Windows
    drive) belongs to the file name."""
    path, sep, tail = text.rpartition(":")
    if sep and path:
        try:
            return path, float(tail)
        except ValueError:
            pass
    return text, 1.0


def cmd_verb(args) -> int:
    from editor import api

    doc = _open_reporting(args.project)
    if args.lora:
        doc.default_loras = [parse_lora(item) for item in args.lora]
    model = api.load_model(args.model, args.device)
    if args.command == "expand":
        layer = api.expand_canvas(doc, model, left=args.left, top=args.top, right=args.right, bottom=args.bottom,
                                  prompt=args.prompt, seed=args.seed)
        if layer is None:
            _err("nothing to expand: give --left, --top, --right or --bottom")
            return 2
    else:
        mask = _read_mask(args.mask, doc) if args.mask else None
        params = {"seed": args.seed, "strength": args.strength, "steps": args.steps, "model": model,
                  "negative_prompt": args.negative}
        if args.command == "fill":
            layer = doc.add_fill_layer(mask, args.prompt, **params)
        elif args.command == "remove":
            layer = doc.add_remove_layer(mask, prompt=args.prompt, **params)
        else:
            layer = doc.add_vary_layer(params.pop("strength"), args.prompt, mask, **params)
        api.render_layers(doc, model)
    print(f"added {layer.name!r}", file=sys.stderr)
    if str(args.output).lower().endswith(".ora"):
        doc.save(args.output)
    else:
        from editor.io.raster import save_image

        save_image(doc.render(), args.output)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        # No command: the editor, with any arguments (files to open, Qt options).
        from editor.ui.app import run_gui

        return run_gui(["layerbrush", *argv])
    args = _parser().parse_args(argv)
    handler = {"render": cmd_render, "export-layers": cmd_export_layers, "generate": cmd_generate,
               **{verb: cmd_verb for verb in VERBS}}[args.command]
    from editor.io.errors import FileFormatError

    try:
        return handler(args)
    except FileFormatError as e:
        _err(str(e))
        return 1
    except (ValueError, OSError) as e:
        _err(str(e))
        return 1
    except Exception as e:  # engine errors (model load, missing weights): a message, not a traceback
        if type(e).__module__.startswith("editor."):
            _err(str(e))
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
