"""eduperson_entitlement parsing and VO grants (specs/oidc.md A3, B5): real shapes, hostile input, properties."""

import time
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from egiportal.entitlements import GroupEntitlement, VOGrant, parse, vo_grants

G = "urn:mace:egi.eu:group:"
AAI = "#aai.egi.eu"


def ent(body, authority="aai.egi.eu"):
    return f"{G}{body}#{authority}"


# A FedCloud user as Check-in releases her today, with the non-group values that come in the same claim.
ALICE = [
    ent("vo.access.egi.eu:role=member"),
    ent("fedcloud.egi.eu:role=member"),
    ent("fedcloud.egi.eu:role=vm_operator"),
    ent("fedcloud.egi.eu:admins:role=member"),
    ent("fedcloud.egi.eu:admins:role=owner"),
    "urn:mace:egi.eu:res:rcauth#aai.egi.eu",
    "urn:mace:egi.eu:res:gocdb#aai.egi.eu",
    "urn:mace:egi.eu:goc.egi.eu:100453G0:GRIDOPS-CheckIn:Site+Administrator@egi.eu",
    "urn:mace:egi.eu:aai.egi.eu:member@vo.example.org",
]

# Expired training membership (vm_operator lingers), an encoded ':' in a subgroup name, a nested subgroup,
# a manager role, and a group from another authority.
BOB = [
    ent("training.egi.eu:role=vm_operator"),
    ent("eosc-synergy.eu:role=member"),
    ent("eosc-synergy.eu:test%3Agroup:role=member"),
    ent("acc-comp.egi.eu:role=member"),
    ent("acc-comp.egi.eu:compute:role=member"),
    ent("acc-comp.egi.eu:compute:gpu:role=member"),
    ent("acc-comp.egi.eu:compute:gpu:role=support"),
    ent("vo.example.org:role=member"),
    ent("vo.example.org:role=manager"),
    ent("vo.elsewhere.org:role=member", authority="aai-dev.egi.eu"),
]


# ---------------------------------------------------------------------------------------------- parse: good values


@pytest.mark.parametrize(
    "value, vo, path, role, authority",
    [
        # B5's example
        (ent("vo.example.org:sub.g:role=support"), "vo.example.org", ("sub.g",), "support", "aai.egi.eu"),
        # A3: membership plus one value per role
        (ent("vo.example.org:role=member"), "vo.example.org", (), "member", "aai.egi.eu"),
        (ent("vo.example.org:role=supervisor"), "vo.example.org", (), "supervisor", "aai.egi.eu"),
        (ent("fedcloud.egi.eu:role=vm_operator"), "fedcloud.egi.eu", (), "vm_operator", "aai.egi.eu"),
        # A3: subgroups, and a Keycloak group path /community.eu/Testers/External
        (
            ent("vo.example.eu:vo.example-sub.eu:role=member"),
            "vo.example.eu",
            ("vo.example-sub.eu",),
            "member",
            "aai.egi.eu",
        ),
        (
            ent("vo.example.eu:vo.example-sub.eu:role=support"),
            "vo.example.eu",
            ("vo.example-sub.eu",),
            "support",
            "aai.egi.eu",
        ),
        (
            ent("community.eu:Testers:External:role=cloud_operator"),
            "community.eu",
            ("Testers", "External"),
            "cloud_operator",
            "aai.egi.eu",
        ),
        # the role is optional in the syntax
        (ent("vo.example.org"), "vo.example.org", (), None, "aai.egi.eu"),
        (ent("vo.example.org:sub"), "vo.example.org", ("sub",), None, "aai.egi.eu"),
        # percent-encoding, each part on its own: %3A stays inside its part, %2E / %2e are dots
        (ent("eosc-synergy.eu:test%3Agroup:role=member"), "eosc-synergy.eu", ("test:group",), "member", "aai.egi.eu"),
        (ent("vo%2Eexample%2eorg:role=member"), "vo.example.org", (), "member", "aai.egi.eu"),
        (ent("vo.example.org:Gr%C3%BCppe:role=da%20ta"), "vo.example.org", ("Grüppe",), "da ta", "aai.egi.eu"),
        (ent("vo.example.org:a%23b:role=x%3Dy"), "vo.example.org", ("a#b",), "x=y", "aai.egi.eu"),
        # an encoded role= is a subgroup name, not the role marker
        (ent("vo.example.org:role%3Dmember"), "vo.example.org", ("role=member",), None, "aai.egi.eu"),
        # '+' is kept literally (no form decoding)
        (ent("vo.example.org:C++:role=Site+Admin"), "vo.example.org", ("C++",), "Site+Admin", "aai.egi.eu"),
        # the URN prefix is case-insensitive, the rest is not
        ("URN:MACE:EGI.EU:GROUP:vo.example.org:role=member#aai.egi.eu", "vo.example.org", (), "member", "aai.egi.eu"),
        ("Urn:Mace:egi.EU:Group:VO.Example.org:role=member" + AAI, "VO.Example.org", (), "member", "aai.egi.eu"),
        (ent("vo.example.org:ROLE=member"), "vo.example.org", ("ROLE=member",), None, "aai.egi.eu"),
        # other authorities still parse (vo_grants filters them)
        (ent("vo.example.org:role=member", "aai-dev.egi.eu"), "vo.example.org", (), "member", "aai-dev.egi.eu"),
        (ent("vo.example.org:role=member", "AAI.EGI.EU"), "vo.example.org", (), "member", "AAI.EGI.EU"),
    ],
)
def test_parse_group_entitlements(value, vo, path, role, authority):
    assert parse(value) == GroupEntitlement(vo=vo, path=path, role=role, authority=authority)


def test_real_vo_names():
    for vo in ["vo.example.org", "fedcloud.egi.eu", "vo.access.egi.eu", "eosc-synergy.eu", "acc-comp.egi.eu"]:
        assert parse(ent(f"{vo}:role=member")).vo == vo
    assert parse(ent("training.egi.eu:role=member")).vo == "training.egi.eu"
    assert parse(ent("under_score-1.2:role=member")).vo == "under_score-1.2"


# ---------------------------------------------------------------------------------------------- parse: not groups


@pytest.mark.parametrize(
    "value",
    [
        # capabilities, GOCDB roles, legacy shapes
        "urn:mace:egi.eu:res:gocdb#aai.egi.eu",
        "urn:mace:egi.eu:res:rcauth#aai.egi.eu",
        "urn:mace:egi.eu:res:storage:child:act:read,write#aai.egi.eu",
        "urn:mace:egi.eu:goc.egi.eu:100453G0:GRIDOPS-CheckIn:Site+Administrator@egi.eu",
        "urn:mace:egi.eu:aai.egi.eu:member@vo.example.org",
        "urn:mace:egi.eu:aai.egi.eu:vm_operator@vo.example.org",
        "urn:mace:egi.eu:aai.egi.eu:admins:member@vo.example.org",
        "urn:mace:egi.eu:groups:vo.example.org:role=member#aai.egi.eu",
        "urn:mace:egi.eu:group",
        "urn:mace:egi.eu:group:",
        "",
        # empty parts
        G + ":role=member" + AAI,
        G + "vo.example.org::role=member" + AAI,
        G + "vo.example.org:sub::role=member" + AAI,
        G + "vo.example.org:role=member:" + AAI,
        G + "vo.example.org:role=" + AAI,
        G + "role=member" + AAI,
        G + AAI,
        # missing '#', empty or doubled authority
        G + "vo.example.org:role=member",
        G + "vo.example.org:role=member#",
        G + "vo.example.org:role=member#aai.egi.eu#aai.egi.eu",
        # a role that is not the last part
        G + "vo.example.org:role=member:sub" + AAI,
        # whitespace around the value, and implausible VO names
        " " + G + "vo.example.org:role=member" + AAI,
        G + "vo example.org:role=member" + AAI,
        G + "vo%20example.org:role=member" + AAI,
        G + "vo+x.org:role=member" + AAI,
        G + "vö.example.org:role=member" + AAI,
        G + "vo%C3%B6.org:role=member" + AAI,
        G + "vo%2Fx:role=member" + AAI,
        G + "vo.example.org%0A:role=member" + AAI,
        G + "vo%3Aexample.org:role=member" + AAI,
    ],
)
def test_not_group_entitlements(value):
    assert parse(value) is None


@pytest.mark.parametrize(
    "bad",
    [
        # control characters, raw and encoded (C0, DEL, C1 NEL), and a bidi override
        "a\x00b",
        "a\nb",
        "a\tb",
        "a\x7fb",
        "a\x85b",
        "a%00b",
        "a%0Ab",
        "a%0d",
        "%7F",
        "a%C2%85b",
        "%E2%80%AE",
        # invalid percent-encoding: bad hex, lone '%', short escape, truncated / overlong UTF-8, surrogates
        "%zz",
        "%",
        "a%",
        "%2",
        "%e2%82",
        "%C0%AE",
        "%ED%A0%80",
        "%FF",
        # lone surrogate in the raw text (possible from JSON "\ud800")
        "a\ud800b",
    ],
)
def test_hostile_parts(bad):
    for value in [
        ent(f"{bad}:role=member"),
        ent(f"vo.example.org:{bad}:role=member"),
        ent(f"vo.example.org:role={bad}"),
    ]:
        assert parse(value) is None, value


def test_authority_is_taken_as_is():
    assert parse(ent("vo.example.org:role=member", "aai%2Eegi.eu")).authority == "aai%2Eegi.eu"
    for bad in ["aai.egi.eu\n", "aai.egi.eu\x00", "\taai.egi.eu", "aai\x85.egi.eu"]:
        assert parse(ent("vo.example.org:role=member", bad)) is None


def test_lengths():
    assert parse(ent("v" * 255 + ":role=member")).vo == "v" * 255
    assert parse(ent("v" * 256 + ":role=member")) is None
    assert parse(ent("vo.example.org:" + "s" * 255 + ":role=member")).path == ("s" * 255,)
    assert parse(ent("vo.example.org:" + "s" * 256 + ":role=member")) is None
    # the name limit counts decoded characters
    assert parse(ent("vo.example.org:" + "%C3%BC" * 100 + "s" * 155 + ":role=member")).path == ("ü" * 100 + "s" * 155,)
    assert parse(ent("vo.example.org:" + "%C3%BC" * 100 + "s" * 156 + ":role=member")) is None
    assert parse(ent("vo.example.org:role=" + "r" * 256)) is None
    # a whole value may have up to 1024 characters
    subgroups = ["s" * 200] * 4
    filler = "x" * (1024 - len(ent(":".join(["vo.example.org", *subgroups, "", "role=member"]))))
    value = ent(":".join(["vo.example.org", *subgroups, filler, "role=member"]))
    assert len(value) == 1024 and parse(value).path == (*subgroups, filler)
    assert parse(value.replace(":role", "x:role")) is None


def test_non_str_input():
    for value in [None, 1, 1.5, True, b"urn:mace:egi.eu:group:vo.example.org:role=member#aai.egi.eu", [], {}, object()]:
        assert parse(value) is None


def test_one_megabyte_value_is_cheap():
    huge = ent("vo.example.org:" + "a" * 1_000_000 + ":role=member")
    started = time.perf_counter()
    assert parse(huge) is None
    assert vo_grants([huge] * 1000) == {}
    assert time.perf_counter() - started < 0.5


# ---------------------------------------------------------------------------------------------- vo_grants


def test_alice():
    grants = vo_grants(ALICE)
    assert list(grants) == ["fedcloud.egi.eu", "vo.access.egi.eu"]
    assert grants["fedcloud.egi.eu"] == VOGrant(
        vo="fedcloud.egi.eu",
        roles=frozenset({"member", "vm_operator"}),
        groups=frozenset({"admins"}),
        manager=True,
    )
    assert grants["vo.access.egi.eu"] == VOGrant(
        vo="vo.access.egi.eu", roles=frozenset({"member"}), groups=frozenset(), manager=False
    )


def test_bob():
    grants = vo_grants(BOB)
    # training.egi.eu: vm_operator without member (expired) is no membership; vo.elsewhere.org: other authority
    assert list(grants) == ["acc-comp.egi.eu", "eosc-synergy.eu", "vo.example.org"]
    assert grants["acc-comp.egi.eu"].groups == {"compute", "compute:gpu"}  # role=support on a subgroup is not a group
    assert grants["acc-comp.egi.eu"].roles == {"member"}
    assert not grants["acc-comp.egi.eu"].manager
    # an encoded ':' inside a name stays distinguishable from a nested path
    assert grants["eosc-synergy.eu"].groups == {"test%3Agroup"}
    both = vo_grants(BOB + [ent("eosc-synergy.eu:test:group:role=member")])
    assert both["eosc-synergy.eu"].groups == {"test%3Agroup", "test:group"}
    assert grants["vo.example.org"].roles == {"member", "manager"}
    assert grants["vo.example.org"].manager


def test_spec_role_examples():
    grants = vo_grants(
        [
            ent("vo.example.org:role=member"),
            ent("vo.example.org:role=supervisor"),
            ent("vo.example.eu:role=member"),
            ent("vo.example.eu:vo.example-sub.eu:role=member"),
            ent("vo.example.eu:vo.example-sub.eu:role=support"),
        ]
    )
    assert grants["vo.example.org"].roles == {"member", "supervisor"}
    assert grants["vo.example.eu"].groups == {"vo.example-sub.eu"}
    assert not any(grant.manager for grant in grants.values())


def test_membership_needs_member_on_the_vo_itself():
    assert vo_grants([ent("fedcloud.egi.eu:role=vm_operator")]) == {}
    assert vo_grants([ent("fedcloud.egi.eu:role=manager")]) == {}
    assert vo_grants([ent("fedcloud.egi.eu:admins:role=member")]) == {}
    assert vo_grants([ent("fedcloud.egi.eu")]) == {}  # a role-less value is not role=member
    assert vo_grants([ent("fedcloud.egi.eu:role=Member")]) == {}
    assert vo_grants([ent("fedcloud.egi.eu:role=member", "aai-dev.egi.eu")]) == {}
    assert list(vo_grants([ent("fedcloud.egi.eu:role=vm_operator"), ent("fedcloud.egi.eu:role=member")])) == [
        "fedcloud.egi.eu"
    ]


def test_manager_rules():
    member = ent("vo.example.org:role=member")
    assert vo_grants([member, ent("vo.example.org:role=manager")])["vo.example.org"].manager
    assert vo_grants([member, ent("vo.example.org:admins:role=member")])["vo.example.org"].manager
    assert not vo_grants([member])["vo.example.org"].manager
    # owner of the admins group without being in it, admins deeper down, a role on a subgroup: not managers
    assert not vo_grants([member, ent("vo.example.org:admins:role=owner")])["vo.example.org"].manager
    assert not vo_grants([member, ent("vo.example.org:x:admins:role=member")])["vo.example.org"].manager
    assert not vo_grants([member, ent("vo.example.org:x:role=manager")])["vo.example.org"].manager
    # manager of another VO only
    grants = vo_grants([member, ent("vo.other.org:role=member"), ent("vo.other.org:role=manager")])
    assert not grants["vo.example.org"].manager and grants["vo.other.org"].manager


def test_custom_manager_settings():
    values = [ent("vo.example.org:role=member"), ent("vo.example.org:role=owner")]
    assert not vo_grants(values)["vo.example.org"].manager
    assert vo_grants(values, manager_roles={"manager", "owner"})["vo.example.org"].manager
    assert vo_grants(values, manager_roles="owner")["vo.example.org"].manager  # a bare string is one role
    assert not vo_grants(values + [ent("vo.example.org:role=manager")], manager_roles=frozenset())[
        "vo.example.org"
    ].manager

    in_admins = [ent("vo.example.org:role=member"), ent("vo.example.org:admins:role=member")]
    assert vo_grants(in_admins)["vo.example.org"].manager
    assert not vo_grants(in_admins, manager_subgroup=None)["vo.example.org"].manager
    assert not vo_grants(in_admins, manager_subgroup="")["vo.example.org"].manager
    assert not vo_grants(in_admins, manager_subgroup="managers")["vo.example.org"].manager
    nested = [ent("vo.example.org:role=member"), ent("vo.example.org:staff:admins:role=member")]
    assert vo_grants(nested, manager_subgroup="staff:admins")["vo.example.org"].manager
    # a single subgroup literally named 'staff:admins' is not the nested path
    spoof = [ent("vo.example.org:role=member"), ent("vo.example.org:staff%3Aadmins:role=member")]
    assert not vo_grants(spoof, manager_subgroup="staff:admins")["vo.example.org"].manager


def test_custom_authority():
    values = [ent("vo.example.org:role=member"), ent("vo.demo.org:role=member", "aai-demo.egi.eu")]
    assert list(vo_grants(values)) == ["vo.example.org"]
    assert list(vo_grants(values, authority="aai-demo.egi.eu")) == ["vo.demo.org"]


def test_claim_shapes():
    member = ent("vo.example.org:role=member")
    assert list(vo_grants(member)) == ["vo.example.org"]  # a single string is a one-element list
    assert list(vo_grants((member,))) == ["vo.example.org"]
    assert vo_grants(None) == {}
    assert vo_grants([]) == {}
    assert vo_grants("") == {}
    for junk in [{"a": member}, {member: 1}, 1, 1.5, True, b"x", member.encode(), {member}, object()]:
        assert vo_grants(junk) == {}, junk
    mixed = [None, 1, b"x", member.encode(), [member], {"v": member}, member, 2.5]
    assert list(vo_grants(mixed)) == ["vo.example.org"]


def test_sorted_and_duplicates():
    names = ["zeta.eu", "Alpha.eu", "beta.eu", "alpha.eu", "1.eu"]
    values = [ent(f"{vo}:role=member") for vo in names] * 3
    assert list(vo_grants(values)) == sorted(names)


def test_max_values():
    values = [ent(f"vo{i}.example.org:role=member") for i in range(100_000)]
    started = time.perf_counter()
    grants = vo_grants(values)
    assert time.perf_counter() - started < 1
    assert len(grants) == 1000
    assert "vo999.example.org" in grants and "vo1000.example.org" not in grants
    assert len(vo_grants(values, max_values=10)) == 10
    assert vo_grants(values, max_values=0) == {}
    assert vo_grants(values, max_values=-5) == {}
    # junk at the front uses up the budget
    assert vo_grants([None] * 1000 + values) == {}


# ---------------------------------------------------------------------------------------------- properties

examples = hypothesis_settings(max_examples=300, deadline=None)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)
vo_names = st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)
names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12).filter(str.isprintable)
authorities = st.sampled_from(["aai.egi.eu", "aai-dev.egi.eu", "aai-demo.egi.eu"])


def build(vo, path, role, authority="aai.egi.eu"):
    parts = [quote(part, safe="") for part in (vo, *path)]
    if role is not None:
        parts.append("role=" + quote(role, safe=""))
    return G + ":".join(parts) + "#" + authority


entitlements = st.builds(
    build, vo_names, st.lists(names, max_size=3), st.none() | st.just("member") | names, authorities
)
claim_items = st.one_of(entitlements, st.text(), st.text().map(lambda text: G + text), json_like)


@examples
@given(st.text())
def test_parse_never_raises_on_text(value):
    result = parse(value)
    assert result is None or isinstance(result, GroupEntitlement)
    assert parse(G + value) is None or parse(G + value).vo


@examples
@given(json_like)
def test_never_raises_on_json_like(value):
    assert parse(value) is None or isinstance(value, str)
    assert isinstance(vo_grants(value), dict)


@examples
@given(st.lists(st.text(), max_size=20))
def test_vo_grants_never_raises_on_text_lists(values):
    assert isinstance(vo_grants(values), dict)


@examples
@given(vo_names, st.lists(names, max_size=4), st.none() | names, st.sampled_from(["aai.egi.eu", "x", "a b"]))
def test_round_trip(vo, path, role, authority):
    assert parse(build(vo, path, role, authority)) == GroupEntitlement(vo, tuple(path), role, authority)
    # the upper-cased prefix does not change the result
    assert parse(build(vo, path, role, authority).replace(G, G.upper(), 1)) == parse(build(vo, path, role, authority))


@examples
@given(st.lists(claim_items, max_size=30), st.integers(0, 40))
def test_grants_come_from_member_entitlements(values, max_values):
    grants = vo_grants(values, max_values=max_values)
    members = set()
    for value in values[:max_values]:
        entitlement = parse(value)
        if entitlement and entitlement.authority == "aai.egi.eu" and entitlement.role == "member":
            if not entitlement.path:
                members.add(entitlement.vo)
    assert set(grants) == members
    assert list(grants) == sorted(grants)
    for vo, grant in grants.items():
        assert grant.vo == vo and "member" in grant.roles
        assert grant.manager == ("manager" in grant.roles or "admins" in grant.groups)
