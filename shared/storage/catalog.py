"""The product catalog: product metadata and ingest runs, in SQL through SQLAlchemy 2.

Products are keyed by (collection, product id), so one database can hold several
collections (say, one per model) and each matches its vector-store collection id
for id. The default URL is ``sqlite:///<data dir>/catalog.db``; any SQLAlchemy
URL works (PostgreSQL: ``postgresql+psycopg://...`` with the ``postgres`` extra).

The tables live in ``shared.storage.catalog_tables`` (the product columns derive from the
product schema); rows are checked against the column definitions before any write
(:func:`check_product_row`), so every database accepts the same rows. Each
collection records which vector store it belongs to (``collection_stores``), so
two data dirs sharing one database cannot clean up each other's rows. The schema
is created under a PostgreSQL advisory lock, so processes opening a fresh
database at once do not race.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import create_engine, delete, event, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import FashionSearchError
from shared.storage.catalog_tables import (
    Base,
    CollectionStore,
    IngestRun,
    InvalidProductError,
    ProductRecord,
    check_product_row,
)
from shared.storage.collection import ModelIdentity

__all__ = [
    "Catalog",
    "CatalogError",
    "CollectionStore",
    "IngestRun",
    "InvalidProductError",
    "ModelIdentity",
    "ProductRecord",
    "check_product_row",
]

_CHUNK = 500  # ids per IN (...) clause, well under SQLite's variable limit
_SCHEMA_LOCK_KEY = 0x66617368  # PostgreSQL advisory lock held while creating the schema ("fash")
_DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres"}
_UPSERTS: dict[str, Callable[[Any], Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _upsert_statement(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (collection, id) DO UPDATE`` of every product column: one statement, so
    writers upserting the same products at once (say, several Ray writers) neither fail nor lose rows."""
    statement = _UPSERTS[dialect](ProductRecord.__table__)
    keys = ("collection", "id")
    updated = {column.name: statement.excluded[column.name] for column in ProductRecord.__table__.columns if column.name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=updated)


def _full_rows(collection: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each product once (its last row), with every column: one left out is NULL, as a replaced row's would be."""
    empty = {column.name: None for column in ProductRecord.__table__.columns}
    return list({row["id"]: {**empty, **row, "collection": collection} for row in rows}.values())


class CatalogError(FashionSearchError, RuntimeError):
    """The catalog database cannot be opened or written; the message names the URL."""


def _public_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: SQLAlchemy's own error names the problem
        return url


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _use_wal(cursor)
        cursor.close()


def _use_wal(cursor: Any, attempts: int = 100) -> None:
    """Switch the file to WAL. SQLite answers "database is locked" at once, without waiting out the busy
    timeout, while another process switches a fresh file too: so wait here (up to 10 s)."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class Catalog:
    """Product metadata and ingest history of every collection in one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.public_url = shown = _public_url(url)
        try:
            self.engine = create_engine(url)
        except ImportError as error:
            driver = error.name or "its driver"
            extra = _DRIVER_EXTRAS.get(driver.split(".")[0])
            fix = f"pip install 'fashion-clip-search[{extra}]'" if extra else f"install {driver}"
            if driver.startswith("psycopg2"):
                fix = f"use postgresql+psycopg://... and {fix}"
            raise CatalogError(f"catalog database {shown} needs the Python module {driver}, which is not installed; {fix}") from None
        except (SQLAlchemyError, ValueError) as error:
            raise CatalogError(f"catalog URL {shown} is not valid ({error}); check DATABASE_URL") from None
        try:
            if self.engine.dialect.name == "sqlite":
                _sqlite_pragmas(self.engine)
            self._create_tables()
        except (SQLAlchemyError, OSError) as error:
            self.engine.dispose()
            reason = str(error).splitlines()[0]
            raise CatalogError(
                f"cannot open the catalog database {shown} ({reason}); check DATABASE_URL or --data-dir"
            ) from None

    def _create_tables(self) -> None:
        """Create missing tables; safe when several processes open a fresh database at once."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as connection:  # the lock ends with the transaction
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                Base.metadata.create_all(connection)
            return
        if self.engine.dialect.name != "sqlite":
            try:
                Base.metadata.create_all(self.engine)
            except (OperationalError, ProgrammingError, IntegrityError) as error:  # created meanwhile by another process
                if "already exists" not in str(error) and "UNIQUE" not in str(error).upper():
                    raise
                Base.metadata.create_all(self.engine)
            return
        if set(Base.metadata.tables) <= set(inspect(self.engine).get_table_names()):
            return  # the usual case, a read only: a read-only catalog file opens too
        with self.engine.connect() as connection:
            # SQLite's write lock for the whole schema: the other processes wait (busy_timeout), then find the
            # tables made (each CREATE otherwise commits alone, and checked-then-created tables raced)
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            Base.metadata.create_all(connection)
            connection.commit()

    def close(self) -> None:
        self.engine.dispose()

    # -- products -----------------------------------------------------------
    def upsert_products(self, collection: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace products (dicts with ``id``, attributes and ``image_path``).

        Every row is checked first (:func:`check_product_row`): one that no column can
        hold raises CatalogError and nothing is written.
        """
        if not rows:
            return
        checked: list[dict[str, Any]] = []
        for row in rows:
            try:
                checked.append(check_product_row(row))
            except InvalidProductError as error:
                raise CatalogError(f"product {row.get('id')!r} cannot be stored in the catalog: {error}") from None
        try:
            with Session(self.engine) as session, session.begin():
                if self.engine.dialect.name in _UPSERTS:
                    session.execute(_upsert_statement(self.engine.dialect.name), _full_rows(collection, checked))
                    return
                for chunk in _chunks([row["id"] for row in checked]):
                    session.execute(
                        delete(ProductRecord).where(ProductRecord.collection == collection, ProductRecord.id.in_(chunk))
                    )
                session.add_all(ProductRecord(collection=collection, **row) for row in checked)
        except SQLAlchemyError as error:
            reason = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
            raise CatalogError(f"cannot write to the catalog database {self.public_url} ({reason})") from None

    def product_ids(self, collection: str) -> set[int]:
        with Session(self.engine) as session:
            return set(session.scalars(select(ProductRecord.id).where(ProductRecord.collection == collection)))

    def count(self, collection: str) -> int:
        with Session(self.engine) as session:
            query = select(func.count()).select_from(ProductRecord).where(ProductRecord.collection == collection)
            return int(session.scalar(query) or 0)

    def get_products(self, collection: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Products by id (missing ids are left out)."""
        found: dict[int, dict[str, Any]] = {}
        with Session(self.engine) as session:
            for chunk in _chunks([int(i) for i in ids]):
                query = select(ProductRecord).where(ProductRecord.collection == collection, ProductRecord.id.in_(chunk))
                found.update((record.id, record.to_dict()) for record in session.scalars(query))
        return found

    def delete_products(self, collection: str, ids: Sequence[int]) -> None:
        with Session(self.engine) as session, session.begin():
            for chunk in _chunks([int(i) for i in ids]):
                session.execute(
                    delete(ProductRecord).where(ProductRecord.collection == collection, ProductRecord.id.in_(chunk))
                )

    def delete_collection(self, collection: str) -> None:
        """Forget a collection's products and runs (``--recreate``)."""
        with Session(self.engine) as session, session.begin():
            session.execute(delete(ProductRecord).where(ProductRecord.collection == collection))
            session.execute(delete(IngestRun).where(IngestRun.collection == collection))
            session.execute(delete(CollectionStore).where(CollectionStore.collection == collection))

    def store_of(self, collection: str) -> str | None:
        """The location of the vector store the collection's rows belong to, if recorded."""
        with Session(self.engine) as session:
            return session.scalar(select(CollectionStore.store).where(CollectionStore.collection == collection))

    def claim_collection(self, collection: str, store: str, *, replacing: str | None = None) -> str:
        """Record that the collection's rows belong to the vector store at ``store``.

        Only a collection with no recorded store (or, with ``replacing``, the one recorded
        as that store) is claimed. Returns the store recorded afterwards: the caller
        owns the collection only if that is ``store``.
        """
        try:
            with Session(self.engine) as session, session.begin():
                owner = session.get(CollectionStore, collection, with_for_update=True)
                if owner is None:
                    session.add(CollectionStore(collection=collection, store=store))
                elif owner.store == replacing:
                    owner.store = store
        except IntegrityError:  # another process claimed it at the same moment
            pass
        return self.store_of(collection) or store

    def collections(self) -> list[str]:
        with Session(self.engine) as session:
            names = set(session.scalars(select(ProductRecord.collection).distinct()))
            names |= set(session.scalars(select(IngestRun.collection).distinct()))
        return sorted(names)

    def distinct_values(self, collection: str, field: str) -> list[str]:
        column = getattr(ProductRecord, field)
        with Session(self.engine) as session:
            query = select(column).where(ProductRecord.collection == collection, column.is_not(None)).distinct()
            return sorted(session.scalars(query))

    # -- ingest runs --------------------------------------------------------
    def start_run(self, collection: str, model: ModelIdentity, dataset: str, backend: str, requested: int) -> int:
        with Session(self.engine) as session, session.begin():
            run = IngestRun(
                collection=collection,
                model_name=model.model_name,
                pretrained=model.pretrained,
                weights_path=model.weights_path,
                weights_sha256=model.weights_sha256,
                embedding_dim=model.embedding_dim,
                dataset=dataset,
                backend=backend,
                requested=requested,
                started_at=datetime.now(timezone.utc),
            )
            session.add(run)
            session.flush()
            return int(run.id)

    def finish_run(self, run_id: int, *, ingested: int, skipped: int, failed_ids: Sequence[int]) -> None:
        with Session(self.engine) as session, session.begin():
            run = session.get(IngestRun, run_id)
            if run is None:
                return
            run.ingested, run.skipped, run.failed = ingested, skipped, len(failed_ids)
            run.failed_ids = json.dumps([int(i) for i in failed_ids])
            run.finished_at = datetime.now(timezone.utc)

    def latest_run(self, collection: str) -> IngestRun | None:
        with Session(self.engine) as session:
            query = select(IngestRun).where(IngestRun.collection == collection).order_by(IngestRun.id.desc()).limit(1)
            run = session.scalars(query).first()
            if run is not None:
                session.expunge(run)
            return run

    def model_of(self, collection: str) -> ModelIdentity | None:
        """The model whose vectors fill the collection, as its latest ingest run recorded it."""
        run = self.latest_run(collection)
        return None if run is None else run_identity(run)


def run_identity(run: IngestRun) -> ModelIdentity:
    """The model an ingest run recorded."""
    return ModelIdentity(run.model_name, run.pretrained, run.weights_path, run.weights_sha256, run.embedding_dim)
