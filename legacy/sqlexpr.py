"""SQL twins of the scalar normalisers in legacy.values, for staged text columns.

Each builder takes the SQL of a staged raw value (text as SQLite rendered it) and of its
storage-class letter, and returns SQL that gives exactly what the Python normaliser gives.
Where SQL cannot be sure (timestamps in rarer ISO spellings, text that is not JSON, JSON
with \\u escapes, blobs) the value is left "undecided" and legacy.setwise asks the
Python normaliser itself, once per distinct value: exact by construction, fast on the
common forms.
"""

from __future__ import annotations

import unicodedata

from legacy.staging import NUL_MARK

# The characters Python's str.strip() removes (it strips every Unicode whitespace).
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# values._CONTROL, plus the staged stand-in for NUL.
CONTROL_CLASS = r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\uffff]"
EPOCH_LOW, EPOCH_HIGH = -62135596800, 253402300799  # Python's datetime range (years 1-9999)
# ISO forms both Python and PostgreSQL read the same way (naive means UTC: the transaction's
# TimeZone is UTC). Hours 24 and second 60 are excluded: PostgreSQL reads them, Python not.
ISO_FAST = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
            r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
            r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$")
# All-digit text Python's fromisoformat never reads as a date (8, 11, 13+ digits it may): 1 to 7,
# 9, 10 or 12 ASCII digits, or a sign and 1 to 12 digits. Checked without a regular expression
# (a third of the cost of a timestamp column): btrim of the digits leaves nothing.
EPOCH_LENGTHS = "1, 2, 3, 4, 5, 6, 7, 9, 10, 12"
NUL_SQL = f"'{NUL_MARK}'"
# int() reads every Unicode decimal digit (Arabic-Indic, full-width, ...) as its value.
UNICODE_DIGITS = "".join(c for c in map(chr, range(0x80, 0x110000))
                         if unicodedata.decimal(c, None) is not None)
ASCII_DIGITS = "".join(str(unicodedata.decimal(c)) for c in UNICODE_DIGITS)


def functions(literal) -> list[str]:
    """pg_temp helpers (inlined by the planner: one expression each). `literal` quotes a str."""
    return [
        "create or replace function pg_temp.clean(t text) returns text language sql immutable "
        f"return regexp_replace(t, '{CONTROL_CLASS}', '', 'g')",
        "create or replace function pg_temp.strip(t text) returns text language sql immutable "
        f"return btrim(t, {literal(WHITESPACE)})",
        "create or replace function pg_temp.row_id(prefix text, legacy bigint) returns uuid "
        "language sql immutable return (prefix || lpad(to_hex((legacy >> 48) & 65535), 4, '0') "
        "|| '-' || lpad(to_hex(legacy & 281474976710655), 12, '0'))::uuid",
    ]


def text(raw: str) -> str:
    """values.clean_text."""
    return f"pg_temp.clean({raw})"


def stripped_text(raw: str) -> str:
    """(values.clean_text(v) or '').strip()"""
    return f"pg_temp.strip(coalesce(pg_temp.clean({raw}), ''))"


def integer(raw: str, kind: str, bits: int) -> str:
    """values.integer within `bits` bits, NULL when NULL, empty or unreadable (a blob always is)."""
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    short = 9 if bits == 32 else 18  # digits that always fit
    digits = (f"translate(pg_temp.strip(ltrim(pg_temp.strip({raw}), '#')), "
              f"'{UNICODE_DIGITS}', '{ASCII_DIGITS}')")
    return (f"case when {kind} = 'b' then null "
            # SQLite's integers (64 bits) as it renders them: no pattern to match.
            f"when {kind} = 'i' then case when {raw}::bigint between {low} and {high} then {raw}::bigint end "
            f"when {raw} ~ '^-?[0-9]{{1,{short}}}$' then {raw}::bigint "
            f"when {raw} ~ '^#[0-9]{{1,{short}}}$' then substr({raw}, 2)::bigint "
            # ASCII without a digit: int() cannot read it.
            f"when {raw} !~ '[0-9]' and {raw} ~ '^[\\x01-\\x7f]*$' then null "
            f"when {digits} ~ '^[+-]?[0-9]+(_[0-9]+)*$' "
            f"and length({digits}) < 40 and replace({digits}, '_', '')::numeric "
            f"between {low} and {high} then replace({digits}, '_', '')::bigint end")


def given(raw: str, kind: str) -> str:
    """The value is there: values.integer/timestamp return None only for NULL and ''."""
    return f"({raw} is not null and ({raw} <> '' or {kind} = 'b'))"


def _epoch_text(raw: str) -> str:
    """`raw` is text of the epoch seconds Python reads as a number, never as a date."""
    return (f"(case when left({raw}, 1) in ('+', '-') then length({raw}) between 2 and 13 "
            f"and btrim(substr({raw}, 2), '0123456789') = '' "
            f"else length({raw}) in ({EPOCH_LENGTHS}) and btrim({raw}, '0123456789') = '' end)")


def timestamp_fast(raw: str, kind: str) -> str:
    """The timestamp of the common forms (unpadded ISO, epoch seconds); NULL otherwise."""
    return (f"case when {kind} = 't' then case "
            # Every ISO_FAST text has '-' fifth: others skip the regular expression.
            f"when substr({raw}, 5, 1) = '-' then case when {raw} ~ '{ISO_FAST}' "
            f"and pg_input_is_valid({raw}, 'timestamptz') then {raw}::timestamptz end "
            f"when {_epoch_text(raw)} and {raw}::bigint between {EPOCH_LOW} and {EPOCH_HIGH} "
            f"then to_timestamp({raw}::float8) end "
            f"when {kind} = 'i' and {raw}::bigint between {EPOCH_LOW} and {EPOCH_HIGH} "
            f"then to_timestamp({raw}::float8) end")


def timestamp_decided(raw: str, kind: str, fast: str) -> str:
    """No need to ask Python: NULL or '' (None), an integer (epoch or out of range), or fast."""
    return f"({fast} is not null or {raw} is null or {kind} = 'i' or ({kind} = 't' and {raw} = ''))"


def _json_valid(raw: str, kind: str) -> str:
    return (f"({kind} in ('t', 'i') and strpos({raw}, '\\u') = 0 and strpos({raw}, {NUL_SQL}) = 0 "
            f"and pg_input_is_valid({raw}, 'jsonb'))")


def _json_has_nul(raw: str, kind: str) -> str:
    # Raw NUL is never valid JSON: Python wraps such text (NUL removed).
    return f"({kind} = 't' and strpos({raw}, {NUL_SQL}) > 0)"


def json_fast(raw: str, kind: str) -> str:
    """The jsonb where SQL is sure (text with NUL wrapped, valid JSON without escapes)."""
    return (f"case when {_json_has_nul(raw, kind)} then jsonb_build_object('legacy_text', {text(raw)}) "
            f"when {_json_valid(raw, kind)} then {raw}::jsonb end")


def json_decided(raw: str, kind: str, fast: str) -> str:
    return f"({raw} is null or {fast} is not null)"


def json_wrapped_fast(raw: str, kind: str) -> str:
    return f"coalesce({_json_has_nul(raw, kind)}, false)"


def typed_json(raw: str, kind: str) -> str:
    """A raw value as the JSON the quarantine's row_data held (numbers as numbers, text cleaned)."""
    return (f"case {kind} when 'i' then to_jsonb({raw}::numeric) when 'r' then to_jsonb({raw}::float8) "
            f"when 'n' then 'null'::jsonb else to_jsonb({text(raw)}) end")


def mapped(raw: str, kind: str, mapping: dict[str, str]) -> str:
    """values.mapped: the key is the stripped, lower-cased value with spaces as '_'."""
    key = f"replace(lower(pg_temp.strip({raw})), ' ', '_')"

    def lookup(expr: str) -> str:
        whens = " ".join(f"when '{k}' then '{v}'" for k, v in mapping.items())
        return f"case {expr} {whens} end"
    return (f"case when {raw} is not null and {kind} <> 'b' then coalesce({lookup(key)}, "
            f"{lookup(f'replace({key}, {chr(39)}_{chr(39)}, {chr(39)}-{chr(39)})')}) end")
