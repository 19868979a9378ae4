r"""``python -m finetune.evaluate_search``: search quality as a shop measures it, through ``FashionRetriever``.

    # an ingested catalog
    python -m finetune.evaluate_search --data-dir data
    # the products the model never trained on (its validation split), ingested into a work dir first
    python -m finetune.evaluate_search --weights models/clip_fashion_final.pt --split validation \
        --work-dir work/search_eval --tune

Tasks, each scored on the top 10 of every search setting (every mode in --modes, plus the default mode
with query understanding off):

- shopper queries generated from the gallery's gender / colour / article type / usage combinations that
  at least --min-products products share, in everyday words with several phrasings ("mens navy running
  shoes", "black watch for men", "tee for boys"); relevant = every attribute the query names matches:
  P@10, P@10 per attribute, nDCG@10, latency p50/p95 (ms, end to end);
- display names of gallery products as queries; relevant = products of that name: R@10, MRR@10, Hit@10;
- composed: a gallery product's photo plus "in COLOUR" (a colour its article type has in at least
  --min-products products); relevant = that article type in that colour: P@10, and the photo alone.

--tune tries a small grid of fusion weights on the fused mode and reports the best (shopper P@10 plus
display-name Hit@10). Writes --output (JSON) and the same name with .md (a table for BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.search_gallery import SPLITS  # light: torch and the store load only when a gallery is made
from shared.commands import BUILTIN_ERRORS, fail, run_cli
from shared.runtime import tune_allocator
from shared.search.types import SEARCH_MODES

if TYPE_CHECKING:
    from shared.retriever import FashionRetriever


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m finetune.evaluate_search", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gallery = p.add_argument_group("gallery (--data-dir, or --weights/--model with --work-dir)")
    gallery.add_argument("--data-dir", help="an ingested catalog (its catalog database and embedded store)")
    gallery.add_argument("--qdrant", help="with --data-dir: 'auto', 'edge' or a Qdrant URL (default: env QDRANT_URL, else auto)")
    gallery.add_argument("--collection", help="with --data-dir: the collection (default: env FASHION_COLLECTION, else fashion_products)")
    gallery.add_argument("--weights", help="weights written by `python -m finetune`: ingest a split of --dataset with them into --work-dir")
    gallery.add_argument("--model", help="instead of --weights, with --split all and --dataset: a base model name such as lite")
    gallery.add_argument("--dataset", help="with --weights: the dataset (default: the one the weights were trained on)")
    gallery.add_argument("--limit", type=int, help="with --split all: only the first N products of the dataset (quick runs)")
    gallery.add_argument("--split", choices=SPLITS, default="validation",
                         help="with --weights: the products training held out (default; its seed and val_fraction) or all of them")
    gallery.add_argument("--work-dir", help="with --weights: where the split is ingested (kept; a rerun reuses it)")
    gallery.add_argument("--recreate", action="store_true", help="with --weights: ingest the split again from scratch")
    run = p.add_argument_group("evaluation")
    run.add_argument("--modes", nargs="+", default=list(SEARCH_MODES), metavar="MODE",
                     help=f"search modes to evaluate (default: all: {', '.join(SEARCH_MODES)})")
    run.add_argument("--queries", type=int, default=300, help="queries per task: shopper, display names, composed (default: 300)")
    run.add_argument("--min-products", type=int, default=10,
                     help="fewest products an attribute combination (or a composed query's type + colour) needs (default: 10)")
    run.add_argument("--seed", type=int, default=0, help="seed of the query sample and phrasings (default: 0)")
    run.add_argument("--tune", action="store_true", help="also try a grid of fusion weights on the fused mode and report the best")
    run.add_argument("--output", default="results/search_eval.json", help="JSON results; the Markdown goes beside it as .md (default: %(default)s)")
    return p


def argument_error(args: argparse.Namespace) -> str | None:
    """The one-line error for arguments that cannot work, found before anything is loaded."""
    unknown = [m for m in args.modes if m not in SEARCH_MODES]
    if unknown:
        return f"--modes {' '.join(unknown)}: unknown search mode; choose from {', '.join(SEARCH_MODES)}"
    if len(set(args.modes)) != len(args.modes):
        return f"--modes {' '.join(args.modes)}: a mode is named twice; name each once"
    if args.queries < 1:
        return f"--queries {args.queries}: give a positive number of queries"
    if args.min_products < 1:
        return f"--min-products {args.min_products}: give a positive number"
    if args.data_dir and (args.weights or args.model):
        return "--data-dir and --weights/--model both given; evaluate an ingested catalog (--data-dir) or ingest a split (--weights --work-dir)"
    if args.data_dir:
        if not Path(args.data_dir).is_dir():
            return (f"--data-dir {args.data_dir}: no such folder; ingest a catalog first "
                    f"(python -m ingest --dataset PATH --data-dir {args.data_dir}) or pass --weights W --work-dir DIR")
        return None
    if args.weights and args.model:
        return "--weights and --model both given; pass one (a weights file records its model)"
    if not (args.weights or args.model):
        return "no gallery: pass --data-dir of an ingested catalog, or --weights W --work-dir DIR to ingest a split"
    if args.weights and not Path(args.weights).is_file():
        return f"--weights {args.weights}: no such file; pass a weights file written by `python -m finetune`"
    if args.model and (args.split != "all" or not args.dataset):
        return f"--model {args.model} has no validation split; pass --split all and --dataset, or --weights of a fine-tuned model"
    if args.limit is not None and (args.split != "all" or args.limit < 1):
        return f"--limit {args.limit}: give a positive number, with --split all (the validation split is training's, whole)"
    if not args.work_dir:
        return f"--weights/--model needs --work-dir DIR, the folder the {args.split} split is ingested into"
    return None


def open_retriever(args: argparse.Namespace) -> tuple[FashionRetriever, str]:
    """The retriever over the chosen gallery (ingesting the split first), and a description of the gallery."""
    from finetune.search_gallery import ingest_split
    from shared.retriever import FashionRetriever
    from shared.settings import Settings

    if args.data_dir:
        settings = Settings.from_env(data_dir=args.data_dir, qdrant_url=args.qdrant, collection=args.collection)
        return FashionRetriever(settings=settings), f"collection {settings.collection} in {args.data_dir}"
    settings = Settings.from_env(data_dir=args.work_dir, qdrant_url="edge", collection=f"search_eval_{args.split}")
    description = ingest_split(
        args.weights, args.dataset, args.split, settings, model=args.model, limit=args.limit, recreate=args.recreate
    )
    print(description, file=sys.stderr)
    return FashionRetriever(settings=settings), description.split(":")[0]


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    import json

    from finetune.search_evaluation import SearchTasks, composed_metrics, evaluate_setting, search_settings, tune_fusion
    from finetune.search_gallery import GalleryError, gallery_products
    from finetune.search_report import markdown_report, summary_line
    from finetune.shopper_queries import composed_queries, name_queries, shopper_queries

    retriever, description = open_retriever(args)
    with retriever:
        gallery = gallery_products(retriever)
        tasks = SearchTasks(
            gallery,
            shopper_queries(gallery, args.queries, args.seed, min_products=args.min_products),
            name_queries(gallery, args.queries, args.seed),
            composed_queries(gallery, args.queries, args.seed, min_products=args.min_products),
        )
        if not tasks.shopper:
            raise GalleryError(f"no attribute combination of the {len(gallery)} products has {args.min_products} products; lower --min-products")
        results = {s.label: evaluate_setting(retriever, s, tasks) for s in search_settings(args.modes)}
        photo_alone = composed_metrics(retriever, None, tasks) if tasks.composed else None
        tuning = tune_fusion(retriever, tasks) if args.tune else None
    payload = {
        "command": command,
        "gallery": {"description": description, "products": len(gallery)},
        "seed": args.seed,
        "min_products": args.min_products,
        "queries": {"shopper": len(tasks.shopper), "names": len(tasks.names), "composed": len(tasks.composed)},
        "results": results,
        "photo_alone": photo_alone,
        "tuning": tuning,
        "examples": {"shopper": [q.text for q in tasks.shopper[:12]], "composed": [q.text for q in tasks.composed[:6]]},
    }
    json_path = Path(args.output)
    markdown_path = json_path.with_suffix(".md")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    markdown = markdown_report(payload)
    markdown_path.write_text(markdown, encoding="utf-8")
    print(markdown)
    print(summary_line(payload, str(json_path), str(markdown_path)))
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    error = argument_error(args)
    if error:
        return fail(error)
    tune_allocator()
    command = shlex.join(["python", "-m", "finetune.evaluate_search", *argv])
    return run_cli(lambda: run(args, command) and 0, also=BUILTIN_ERRORS)


if __name__ == "__main__":
    raise SystemExit(main())
