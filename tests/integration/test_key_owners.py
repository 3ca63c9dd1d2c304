"""One owner per Redis key: the audit trail's key names are spelled only in
gateway/audit/audit_keys.c, and only deliver/ reads the deployment hash's fields by name with
its own commands (forward asks deploy's tg_deployment_load)."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"


def code(path):
    """The file's text without comments (string literals kept: key names live there)."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(), flags=re.S)


def test_audit_key_names_are_spelled_only_in_audit_keys():
    owner = GATEWAY / "audit" / "audit_keys.c"
    assert re.search(r'"%saudit:once~h:%s"', code(owner))
    spelled = [str(p.relative_to(ROOT)) for p in GATEWAY.glob("*/*.c") if p != owner
               and re.search(r'audit:(idx|once|inbox:lock)', code(p))]
    assert spelled == []


def test_only_deliver_reads_deployment_fields_by_command():
    outside = [str(p.relative_to(ROOT)) for p in GATEWAY.glob("*/*.c")
               if p.parent.name != "deliver" and
               re.search(r'HMGET %s state approval_id|"HGET %s state"', code(p))]
    assert outside == []
