#!/usr/bin/env python3
"""Checks a presence NOTIFY body with parsers other than Switchboard's own.

Usage: check_presence.py CONTENT-TYPE BODY-FILE

application/pidf+xml: the document must validate against the RFC 3863 schema beside this
script (xmllint --schema) and parse with xml.etree; the RPID activities (RFC 4480) must
sit in the RFC 4479 person element, in their own namespaces.

application/dialog-info+xml (RFC 4235): the namespace, the required attributes, and
every dialog's id and state.

multipart/related (RFC 4662 §5): Python's email package splits the parts; the root part
(the `start` parameter, else the first) must be RLMI (application/rlmi+xml), every
resource instance that names a cid must have a part with that Content-ID, and every
PIDF part is checked as above.

Prints one line per document, for the test to compare:
  pidf ENTITY basic=open,closed activities=busy,on-the-phone notes=N
  rlmi URI version=N full=true|false resources=N instances=N
  dialog ENTITY version=N state=full|partial dialogs=confirmed,terminated
Exits 1 with a reason on the first violation.
"""
import email
import email.policy
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

PIDF = "urn:ietf:params:xml:ns:pidf"
DM = "urn:ietf:params:xml:ns:pidf:data-model"
RPID = "urn:ietf:params:xml:ns:pidf:rpid"
RLMI = "urn:ietf:params:xml:ns:rlmi"
DIALOG = "urn:ietf:params:xml:ns:dialog-info"
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(why):
    print("invalid: " + why)
    sys.exit(1)


def schema_check(xml_bytes):
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(xml_bytes)
        path = f.name
    try:
        run = subprocess.run(
            ["xmllint", "--noout", "--schema", os.path.join(HERE, "pidf.xsd"), path],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            fail("xmllint --schema pidf.xsd: " + run.stderr.strip())
    finally:
        os.unlink(path)


def pidf(xml_bytes):
    schema_check(xml_bytes)
    root = ET.fromstring(xml_bytes)
    if root.tag != "{%s}presence" % PIDF:
        fail("root element is %s, not PIDF presence" % root.tag)
    entity = root.get("entity")
    if not entity:
        fail("presence without entity")
    basics = [b.text.strip() for b in root.iter("{%s}basic" % PIDF)]
    activities = []
    for person in root.findall("{%s}person" % DM):
        for acts in person.findall("{%s}activities" % RPID):
            for act in acts:
                ns, _, name = act.tag[1:].partition("}")
                if ns != RPID:
                    fail("activity %s outside the RPID namespace" % act.tag)
                activities.append(name)
    notes = len(list(root.iter("{%s}note" % PIDF))) + len(list(root.iter("{%s}note" % DM)))
    print(
        "pidf %s basic=%s activities=%s notes=%d"
        % (entity, ",".join(basics), ",".join(sorted(activities)), notes)
    )


def multipart(content_type, body):
    msg = email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body,
        policy=email.policy.compat32,
    )
    if not msg.is_multipart():
        fail("multipart body that email cannot split")
    parts = msg.get_payload()
    if not parts:
        fail("multipart body without parts")
    start = msg.get_param("start")
    root = parts[0]
    if start:
        root = next((p for p in parts if p.get("Content-ID") == start), None)
        if root is None:
            fail("no part with the start Content-ID %s" % start)
    if root.get_content_type() != "application/rlmi+xml":
        fail("root part is %s, not application/rlmi+xml" % root.get_content_type())
    lst = ET.fromstring(root.get_payload(decode=True))
    if lst.tag != "{%s}list" % RLMI:
        fail("RLMI root element is %s" % lst.tag)
    by_cid = {}
    for p in parts:
        cid = p.get("Content-ID")
        if cid:
            by_cid[cid.strip().strip("<>")] = p
    resources = lst.findall("{%s}resource" % RLMI)
    instances = 0
    for r in resources:
        if not r.get("uri"):
            fail("resource without uri")
        for inst in r.findall("{%s}instance" % RLMI):
            instances += 1
            cid = inst.get("cid")
            if cid and cid not in by_cid:
                fail("instance cid %s has no part" % cid)
    print(
        "rlmi %s version=%s full=%s resources=%d instances=%d"
        % (lst.get("uri"), lst.get("version"), lst.get("fullState"), len(resources), instances)
    )
    for p in parts:
        if p is root:
            continue
        # RFC 4662 §5: every body part carries its own Content-Type, and a Content-ID the
        # RLMI instance names in its cid.
        if p.get("Content-Type") is None:
            fail("a part without Content-Type (Content-ID %s)" % p.get("Content-ID"))
        if p.get("Content-ID") is None:
            fail("a part without Content-ID")
        if p.get_content_type() != "application/pidf+xml":
            fail("a part of type %s, not application/pidf+xml" % p.get_content_type())
        pidf(p.get_payload(decode=True))


def dialog_info(xml_bytes):
    """RFC 4235 §4: <dialog-info version state entity> with <dialog id><state>...</state>."""
    root = ET.fromstring(xml_bytes)
    if root.tag != "{%s}dialog-info" % DIALOG:
        fail("root element is %s, not dialog-info" % root.tag)
    for attr in ("version", "state", "entity"):
        if root.get(attr) is None:
            fail("dialog-info without %s (RFC 4235 §4.1)" % attr)
    if root.get("state") not in ("full", "partial"):
        fail("dialog-info state %s" % root.get("state"))
    if not root.get("version").isdigit():
        fail("dialog-info version %s" % root.get("version"))
    states = []
    for d in root.findall("{%s}dialog" % DIALOG):
        if not d.get("id"):
            fail("dialog without id (RFC 4235 §4.1.1)")
        st = d.find("{%s}state" % DIALOG)
        if st is None or st.text.strip() not in (
            "trying", "proceeding", "early", "confirmed", "terminated"
        ):
            fail("dialog %s without a valid state" % d.get("id"))
        states.append(st.text.strip())
    print(
        "dialog %s version=%s state=%s dialogs=%s"
        % (root.get("entity"), root.get("version"), root.get("state"), ",".join(states))
    )


def main():
    content_type, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        body = f.read()
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/pidf+xml":
        pidf(body)
    elif kind == "application/dialog-info+xml":
        dialog_info(body)
    elif kind == "multipart/related":
        multipart(content_type, body)
    else:
        fail("unexpected Content-Type %s" % content_type)


if __name__ == "__main__":
    main()
