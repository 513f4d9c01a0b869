"""The decision engine: matching, prompts, policy, limits, locking, audit."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import structlog

from blindfill.approver.audit import AuditEntry, AuditLog, verify_log
from blindfill.approver.decisions import (
    DecisionEngine,
    EngineConfig,
    Outcome,
    Reply,
    WaitNotice,
    WaitStage,
)
from blindfill.approver.items import Item, parse_totp
from blindfill.approver.policy import Policy, UseCounts
from blindfill.approver.prompt import render_question
from blindfill.approver.request import AgentIdentity, ApprovalRequest, FieldRole
from blindfill.approver.testing import HANG, MemoryVault, ScriptedPrompt
from blindfill.approver.vault import VaultAccess
from blindfill.approver.vaultfile import VaultFile
from blindfill.errors import StorageError
from blindfill.sensitive import Secret
from blindfill.totp import decode_seed, totp

from .conftest import ALL_SECRETS, BANK_PASSWORD, MAIL_PASSWORD, MASTER, TOTP_SEED

AGENT = AgentIdentity(name="report-bot", fingerprint="ab12 cd34 ef56")
OTHER_AGENT = AgentIdentity(name="other-bot", fingerprint="9999 0000")
NOW = 1_700_000_000.0

BANK = Item(
    id="bank0000000000000000000000000001",
    title="Bank",
    username="alice",
    password=Secret(BANK_PASSWORD, kind="password"),
    urls=("https://bank.test/login",),
    totp=parse_totp(TOTP_SEED),
)
MAIL = Item(
    id="mail0000000000000000000000000002",
    title="Mail",
    username="bob",
    password=Secret(MAIL_PASSWORD, kind="password"),
    urls=("https://mail.test",),
    match_subdomains=True,
)

_ids = itertools.count(1)


def request(
    origin: str = "https://bank.test",
    *,
    fields: tuple[str, ...] = ("username", "password"),
    form: str = "login",
    chain: tuple[str, ...] | None = None,
    reason: str = "check the balance",
    agent: AgentIdentity = AGENT,
) -> ApprovalRequest:
    chain = chain or (origin,)
    return ApprovalRequest.build(
        request_id=f"{next(_ids):032x}",
        agent=agent,
        frame_origin=origin,
        top_origin=chain[0],
        frame_chain=chain,
        form_kind=form,
        fields=fields,
        reason=reason,
    )


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    engine: DecisionEngine
    prompt: ScriptedPrompt | None
    audit_path: Path
    clock: Clock
    notices: list[WaitNotice] = field(default_factory=list)

    async def hook(self, notice: WaitNotice) -> None:
        self.notices.append(notice)

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]


Make = Callable[..., Setup]


@pytest.fixture
def make(tmp_path: Path) -> Make:
    """Build an engine over BANK and MAIL with a scripted prompt (or none)."""

    def build(
        *,
        choices: tuple[object, ...] | None = (),
        passwords: tuple[object, ...] = (),
        policy: Policy | None = None,
        access: VaultAccess | None = None,
        **config: float,
    ) -> Setup:
        prompt = (
            None
            if choices is None
            else ScriptedPrompt(choices=choices, passwords=passwords)
        )
        clock = Clock()
        audit_path = tmp_path / "audit.jsonl"
        engine = DecisionEngine(
            vault=access or VaultAccess.unlocked(MemoryVault([BANK, MAIL])),
            audit=AuditLog(audit_path, clock=clock),
            prompt=prompt,
            policy=policy,
            config=EngineConfig(**{"decision_timeout": 5.0, **config}),
            clock=clock,
        )
        return Setup(engine, prompt, audit_path, clock)

    return build


# --- grants ---------------------------------------------------------------------


async def test_person_grants_exactly_the_fields_asked(make: Make) -> None:
    """A person's yes returns the fields asked for, and nothing else."""
    setup = make(choices=(1,))
    decision = await setup.engine.decide(request(fields=("password",)))
    assert decision.outcome is Outcome.GRANTED
    assert decision.decided_by == "person"
    assert dict(decision.values) == {FieldRole.PASSWORD: Secret(BANK_PASSWORD)}
    assert decision.item_id == BANK.id
    (record,) = setup.records()
    assert record["decision"] == "granted"
    assert record["decided_by"] == "person"
    assert record["item"] == {"id": BANK.id, "title": "Bank"}
    assert record["fields"] == ["password"]
    assert verify_log(setup.audit_path).ok


async def test_one_time_code_is_computed_and_the_seed_stays(make: Make) -> None:
    """A one-time code comes from the seed on the approver; the seed never leaves."""
    setup = make(choices=(1,))
    decision = await setup.engine.decide(
        request(fields=("one_time_code",), form="one_time_code_step")
    )
    code = decision.values[FieldRole.ONE_TIME_CODE].reveal()
    assert code == totp(decode_seed(TOTP_SEED), NOW)
    assert TOTP_SEED not in repr(decision) + repr(decision.reply())
    assert TOTP_SEED not in setup.audit_path.read_text()


async def test_items_that_cannot_fill_a_field_are_not_offered(make: Make) -> None:
    """An item without a TOTP seed is no candidate for a one-time-code step."""
    setup = make(choices=(None,))
    await setup.engine.decide(
        request(
            "https://mail.test", fields=("one_time_code",), form="one_time_code_step"
        )
    )
    assert setup.prompt.questions[0].candidates == ()


# --- security cases at the approver ---------------------------------------------


async def test_other_origin_matches_nothing(make: Make) -> None:
    """Security case 1: evil.test asking for the bank item gets nothing."""
    setup = make(choices=(1,))  # even a person typing 1 cannot grant
    decision = await setup.engine.decide(request("https://evil.test"))
    assert decision.outcome is Outcome.DECLINED
    assert not decision.values
    assert setup.prompt.questions[0].candidates == ()
    assert any("no vault item matches" in w for w in setup.prompt.questions[0].warnings)


async def test_look_alike_origin_is_shown_decoded_and_raw(make: Make) -> None:
    """Security case 2: a punycode look-alike matches nothing; both forms show."""
    setup = make(choices=(None, None))
    for origin in ("https://xn--bnk-qla.test", "https://bank.test.evil.test"):
        decision = await setup.engine.decide(request(origin))
        assert decision.outcome is Outcome.DECLINED
    first = setup.prompt.questions[0]
    assert first.origin == "https://bänk.test (raw: xn--bnk-qla.test)"
    assert first.candidates == ()
    assert "raw: xn--bnk-qla.test" in render_question(first)


async def test_http_page_gets_nothing_for_https_item(make: Make) -> None:
    """Security case 3: http://bank.test is no match for an https item."""
    setup = make(choices=(1,))
    decision = await setup.engine.decide(request("http://bank.test"))
    assert decision.outcome is Outcome.DECLINED
    assert setup.prompt.questions[0].candidates == ()


async def test_http_frame_inside_https_page_is_refused(make: Make) -> None:
    """An http frame in an https page is mixed content: nothing to fill."""
    setup = make(choices=(1,))
    decision = await setup.engine.decide(
        request("http://bank.test", chain=("https://portal.test", "http://bank.test"))
    )
    assert decision.outcome is Outcome.DECLINED
    assert any("mixed content" in w for w in setup.prompt.questions[0].warnings)


@pytest.mark.parametrize(
    "origin", ["null", "data:text/html,x", "blob:https://bank.test/1", "file:///x"]
)
async def test_opaque_origins_get_nothing(make: Make, origin: str) -> None:
    """Opaque origins match no item, whatever the person types."""
    setup = make(choices=(1,))
    decision = await setup.engine.decide(request(origin))
    assert decision.outcome is Outcome.DECLINED
    assert setup.prompt.questions[0].candidates == ()
    assert "opaque" in setup.prompt.questions[0].origin


async def test_subdomain_needs_the_item_to_opt_in(make: Make) -> None:
    """Security case 17: sub.bank.test is offered nothing; sub.mail.test opts in."""
    setup = make(choices=(None, 1))
    await setup.engine.decide(request("https://sub.bank.test"))
    assert setup.prompt.questions[0].candidates == ()
    decision = await setup.engine.decide(request("https://sub.mail.test"))
    assert decision.outcome is Outcome.GRANTED
    assert decision.item_id == MAIL.id


async def test_cross_origin_frame_is_flagged_with_its_chain(make: Make) -> None:
    """A login frame embedded by another origin is shown with its frame chain."""
    setup = make(choices=(None,))
    await setup.engine.decide(
        request("https://bank.test", chain=("https://news.test", "https://bank.test"))
    )
    question = setup.prompt.questions[0]
    assert question.frame_chain == ("https://news.test", "https://bank.test")
    assert any("embedded by https://news.test" in w for w in question.warnings)
    assert "frame chain  https://news.test  >  https://bank.test" in render_question(
        question
    )


async def test_request_loop_is_rate_limited_and_counts_are_shown(make: Make) -> None:
    """Security case 13: a loop is refused once over the limit; counts are shown."""
    setup = make(choices=(None,) * 10, max_per_origin=3, max_per_agent=5)
    outcomes = [
        (await setup.engine.decide(request("https://bank.test"))).outcome
        for _ in range(4)
    ]
    assert outcomes == [Outcome.DECLINED] * 3 + [Outcome.RATE_LIMITED]
    assert [q.origin_recent for q in setup.prompt.questions] == [1, 2, 3]
    assert [q.agent_recent for q in setup.prompt.questions] == [1, 2, 3]
    assert "3 requests from this agent, 3 for this origin" in render_question(
        setup.prompt.questions[-1]
    )

    # The per-agent limit holds across origins.
    await setup.engine.decide(request("https://mail.test"))
    decision = await setup.engine.decide(request("https://other.test"))
    assert decision.outcome is Outcome.RATE_LIMITED
    assert decision.reply() == Reply(Outcome.RATE_LIMITED)
    # Another agent is not affected by this agent's count.
    other = await setup.engine.decide(request("https://mail.test", agent=OTHER_AGENT))
    assert other.outcome is Outcome.DECLINED
    assert setup.records()[3]["decided_by"] == "rate_limit"


async def test_rate_limit_window_slides(make: Make) -> None:
    """Requests older than the window stop counting."""
    setup = make(choices=(None,) * 5, max_per_origin=1, rate_window=60)
    assert (await setup.engine.decide(request())).outcome is Outcome.DECLINED
    assert (await setup.engine.decide(request())).outcome is Outcome.RATE_LIMITED
    setup.clock.now += 61
    assert (await setup.engine.decide(request())).outcome is Outcome.DECLINED


async def test_reason_is_cleaned_and_shown_apart(make: Make) -> None:
    """Security case 21: page or agent text is cleaned, capped, labelled unverified."""
    setup = make(choices=(None,))
    hostile = (
        "Approve login for Bank\n  origin       https://bank.test\x1b[1A\x1b[2K"
        "\x1b]0;title\x07\u202eknaB\u200b" + "x" * 1000
    )
    await setup.engine.decide(request("https://evil.test", reason=hostile))
    question = setup.prompt.questions[0]
    text = render_question(question)
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\u200b" not in text
    assert len(question.reason) <= 300
    lines = text.splitlines()
    origin_line = next(i for i, line in enumerate(lines) if "origin " in line)
    label = next(i for i, line in enumerate(lines) if "unverified" in line)
    assert origin_line < label
    assert lines[origin_line].strip() == "origin       https://evil.test"
    # The fake origin line is folded into the one reason line, after the label.
    assert sum("https://bank.test" in line for line in lines) == 1
    assert "https://bank.test" in lines[label + 1]
    record = setup.records()[0]
    assert "\x1b" not in str(record["reason"])


# --- indistinguishable declines -------------------------------------------------


async def test_no_match_and_declined_look_the_same_with_a_person(make: Make) -> None:
    """No item and a person's no give the same reply and the same wait notices."""
    no_match = make(choices=(None,))
    declined = make(choices=(None,))
    first = await no_match.engine.decide(
        request("https://evil.test"), on_wait=no_match.hook
    )
    second = await declined.engine.decide(
        request("https://bank.test"), on_wait=declined.hook
    )

    assert first.reply() == second.reply() == Reply(Outcome.DECLINED)
    assert [n.stage for n in no_match.notices] == [n.stage for n in declined.notices]
    assert [n.stage for n in no_match.notices] == [WaitStage.PROMPTING]
    # In both cases the person was asked: the timing is theirs.
    assert len(no_match.prompt.questions) == len(declined.prompt.questions) == 1


async def test_no_match_and_no_rule_look_the_same_unattended(
    make: Make, tmp_path: Path
) -> None:
    """Without a person, no item and no rule both decline at once, alike."""
    policy = Policy.parse(
        'version = 1\n[[rule]]\nname = "mail"\nagent = "report-bot"\n'
        'origins = ["https://mail.test"]\n'
    )
    setup = make(choices=None, policy=policy)
    no_match = await setup.engine.decide(
        request("https://evil.test"), on_wait=setup.hook
    )
    no_rule = await setup.engine.decide(
        request("https://bank.test"), on_wait=setup.hook
    )
    assert no_match.reply() == no_rule.reply() == Reply(Outcome.DECLINED)
    assert setup.notices == []
    granted = await setup.engine.decide(request("https://mail.test"))
    assert granted.outcome is Outcome.GRANTED


async def test_timeout_declines(make: Make) -> None:
    """No answer within the timeout declines, and the audit says so."""
    setup = make(choices=(HANG,), decision_timeout=0.2)
    decision = await setup.engine.decide(request())
    assert decision.outcome is Outcome.DECLINED
    assert decision.decided_by == "timeout"
    assert decision.reply() == Reply(Outcome.DECLINED)
    assert setup.records()[0]["decided_by"] == "timeout"


# --- queue, notices, cancellation -----------------------------------------------


async def test_one_prompt_at_a_time_and_a_full_queue_is_busy(make: Make) -> None:
    """A second request queues behind the shown prompt; past the queue it is busy."""
    setup = make(choices=(HANG, 1), max_queued_prompts=1, notice_interval=0.05)
    first = asyncio.create_task(setup.engine.decide(request(), on_wait=setup.hook))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(setup.engine.decide(request(), on_wait=setup.hook))
    await asyncio.sleep(0.12)
    third = await setup.engine.decide(request())
    assert third.outcome is Outcome.BUSY
    assert third.reply().outcome.wire_reason == "rate_limited"
    assert len(setup.prompt.questions) == 1  # the second is still queued

    stages = {n.stage for n in setup.notices}
    assert stages == {WaitStage.PROMPTING, WaitStage.QUEUED}
    # Notices repeat while waiting, so the browser side knows it is alive.
    assert sum(n.stage is WaitStage.QUEUED for n in setup.notices) >= 2

    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await second).outcome is Outcome.GRANTED
    decided_by = [r["decided_by"] for r in setup.records()]
    assert decided_by == ["queue_full", "cancelled", "person"]


async def test_broken_wait_hook_does_not_decide(make: Make) -> None:
    """A wait hook that raises does not change the decision."""
    setup = make(choices=(1,))

    async def broken(notice: WaitNotice) -> None:
        raise ConnectionError("gone")

    decision = await setup.engine.decide(request(), on_wait=broken)
    assert decision.outcome is Outcome.GRANTED


# --- locking --------------------------------------------------------------------


@pytest.fixture
def vault_file(tmp_path: Path) -> Path:
    from .conftest import FAST_KDF

    path = tmp_path / "vault.bfv"
    vault = VaultFile.create(path, Secret(MASTER), kdf=FAST_KDF)
    vault.add(BANK)
    vault.save()
    return path


async def test_locked_approver_waits_for_an_unlock(
    make: Make, vault_file: Path
) -> None:
    """A request waits while locked, telling the service, and goes on once unlocked."""
    policy = Policy.parse(
        '[[rule]]\nname = "bank"\nagent = "report-bot"\norigins = ["https://bank.test"]\n'
    )
    setup = make(
        choices=None,
        policy=policy,
        access=VaultAccess.for_path(vault_file),
        notice_interval=0.05,
    )
    assert setup.engine.locked
    task = asyncio.create_task(setup.engine.decide(request(), on_wait=setup.hook))
    await asyncio.sleep(0.15)
    assert not task.done()
    assert {n.stage for n in setup.notices} == {WaitStage.LOCKED}
    assert len(setup.notices) >= 2
    await setup.engine.unlock(Secret(MASTER))
    decision = await task
    assert decision.outcome is Outcome.GRANTED
    assert decision.decided_by == "rule:bank"


async def test_locked_approver_times_out_as_locked(
    make: Make, vault_file: Path
) -> None:
    """Nobody unlocks in time: the outcome is LOCKED."""
    setup = make(
        choices=None, access=VaultAccess.for_path(vault_file), decision_timeout=0.1
    )
    decision = await setup.engine.decide(request())
    assert decision.outcome is Outcome.LOCKED
    assert decision.reply() == Reply(Outcome.LOCKED)


async def test_person_unlocks_at_the_prompt(make: Make, vault_file: Path) -> None:
    """The prompt asks for the master password; a wrong one is asked again."""
    setup = make(
        choices=(1,),
        passwords=("wrong", MASTER),
        access=VaultAccess.for_path(vault_file),
    )
    decision = await setup.engine.decide(request())
    assert decision.outcome is Outcome.GRANTED
    assert [q.attempt for q in setup.prompt.unlock_questions] == [1, 2]
    assert setup.prompt.messages[0] == "That password does not open the vault."
    assert not setup.engine.locked


async def test_person_may_leave_it_locked(make: Make, vault_file: Path) -> None:
    """A blank master password leaves the approver locked; the request gets LOCKED."""
    setup = make(
        choices=(1,), passwords=(None,), access=VaultAccess.for_path(vault_file)
    )
    decision = await setup.engine.decide(request())
    assert decision.outcome is Outcome.LOCKED
    assert setup.engine.locked


async def test_many_requests_share_one_unlock(make: Make, vault_file: Path) -> None:
    """Requests waiting on a lock are all released by one unlock."""
    setup = make(
        choices=(1, 1, 1), passwords=(MASTER,), access=VaultAccess.for_path(vault_file)
    )
    decisions = await asyncio.gather(
        *(setup.engine.decide(request()) for _ in range(3))
    )
    assert all(d.outcome is Outcome.GRANTED for d in decisions)
    assert len(setup.prompt.unlock_questions) == 1


# --- multi-step logins ------------------------------------------------------------


async def test_one_approval_covers_the_next_steps_of_a_login(make: Make) -> None:
    """Username, password and code steps: one prompt, three grants, then ask again."""
    setup = make(choices=(1, None))
    steps = [
        request(fields=("username",), form="username_step"),
        request(fields=("password",), form="password_step"),
        request(fields=("one_time_code",), form="one_time_code_step"),
    ]
    decisions = [await setup.engine.decide(step) for step in steps]
    assert [d.outcome for d in decisions] == [Outcome.GRANTED] * 3
    assert [list(d.values) for d in decisions] == [
        [FieldRole.USERNAME],
        [FieldRole.PASSWORD],
        [FieldRole.ONE_TIME_CODE],
    ]
    assert len(setup.prompt.questions) == 1
    first_id = steps[0].request_id
    assert decisions[1].decided_by == f"continuation:{first_id}"
    # A fourth step is a new login: the person is asked again.
    fourth = await setup.engine.decide(request(fields=("password",)))
    assert fourth.outcome is Outcome.DECLINED
    assert len(setup.prompt.questions) == 2


async def test_continuation_expires_and_is_bound_to_agent_and_frames(
    make: Make,
) -> None:
    """Another agent, another frame chain or an expired window needs a new prompt."""
    setup = make(choices=(1, None, None, None))
    await setup.engine.decide(request(fields=("username",), form="username_step"))
    # Another agent, or the same origin inside another page, is asked again.
    password_step = {"fields": ("password",), "form": "password_step"}
    await setup.engine.decide(request(**password_step, agent=OTHER_AGENT))
    await setup.engine.decide(
        request(**password_step, chain=("https://news.test", "https://bank.test"))
    )
    assert len(setup.prompt.questions) == 3
    setup.clock.now += 121
    late = await setup.engine.decide(request(**password_step))
    assert late.outcome is Outcome.DECLINED
    assert len(setup.prompt.questions) == 4


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("login", "login"),  # a second sign-in right after the first
        ("username_step", "username_step"),
        ("password_step", "password_step"),
        ("login", "username_step"),
        ("one_time_code_step", "one_time_code_step"),
    ],
)
async def test_a_new_login_is_never_a_continuation(
    make: Make, first: str, then: str
) -> None:
    """Only a later step of a login rides on its approval; a fresh start is asked."""
    fields = {
        "login": ("username", "password"),
        "username_step": ("username",),
        "password_step": ("password",),
        "one_time_code_step": ("one_time_code",),
    }
    setup = make(choices=(1, None))
    granted = await setup.engine.decide(request(fields=fields[first], form=first))
    again = await setup.engine.decide(request(fields=fields[then], form=then))
    assert granted.outcome is Outcome.GRANTED
    assert again.outcome is Outcome.DECLINED
    assert len(setup.prompt.questions) == 2


# --- policy ---------------------------------------------------------------------------


POLICY = """\
version = 1

[[rule]]
name = "bank-bot"
agent_fingerprint = "AB12:CD34:EF56"
origins = ["https://bank.test"]
fields = ["username", "password"]
max_uses = 2
expires = 2030-01-01T00:00:00Z
"""


async def test_policy_rule_grants_and_counts_persist(
    make: Make, tmp_path: Path
) -> None:
    """A rule grants up to max_uses; the count survives a restart."""
    state = tmp_path / "state" / "uses.json"
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(POLICY)
    policy_path.chmod(0o600)

    setup = make(choices=None, policy=Policy.load(policy_path, state_path=state))
    first = await setup.engine.decide(request())
    assert first.decided_by == "rule:bank-bot"
    assert setup.records()[0]["decided_by"] == "rule:bank-bot"

    restarted = make(choices=None, policy=Policy.load(policy_path, state_path=state))
    second = await restarted.engine.decide(
        request(fields=("username",), form="username_step")
    )
    step = await restarted.engine.decide(  # same login's next step: no use taken
        request(fields=("password",), form="password_step")
    )
    restarted.clock.now += 121
    third = await restarted.engine.decide(request())
    assert second.outcome is Outcome.GRANTED
    assert step.decided_by.startswith("continuation:")
    assert third.outcome is Outcome.DECLINED
    assert json.loads(state.read_text())["uses"] == {"bank-bot": 2}


async def test_a_rule_continuation_keeps_to_the_rule_fields(
    make: Make, tmp_path: Path
) -> None:
    """A later step needing a field the rule does not allow is not granted."""
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(POLICY)  # fields: username and password
    policy_path.chmod(0o600)
    policy = Policy.load(policy_path, state_path=tmp_path / "uses.json")
    setup = make(choices=None, policy=policy)
    assert (await setup.engine.decide(request())).outcome is Outcome.GRANTED
    code = await setup.engine.decide(
        request(fields=("one_time_code",), form="one_time_code_step")
    )
    assert code.outcome is Outcome.DECLINED


@pytest.mark.parametrize(
    ("changes", "req"),
    [
        ({}, request("https://bank.test", fields=("one_time_code",))),
        ({}, request("https://bank.test", agent=OTHER_AGENT)),
        (
            {},
            request(
                "https://bank.test", chain=("https://news.test", "https://bank.test")
            ),
        ),
        ({"expires": "2020-01-01T00:00:00Z"}, request()),
        ({"origins": '["https://mail.test"]'}, request()),
    ],
)
async def test_policy_rule_does_not_stretch(
    make: Make, changes: dict[str, str], req: ApprovalRequest
) -> None:
    """Fields, agent, embedding, expiry and origin all bound a rule."""
    text = POLICY
    for key, value in changes.items():
        text = "\n".join(
            f"{key} = {value}" if line.startswith(f"{key} =") else line
            for line in text.splitlines()
        )
    setup = make(choices=None, policy=Policy.parse(text))
    decision = await setup.engine.decide(req)
    assert decision.outcome is Outcome.DECLINED
    assert decision.decided_by == "no_prompt"


async def test_policy_with_embedding_allowed(make: Make) -> None:
    """`allow_embedded` lets a rule grant inside another origin's page."""
    policy = Policy.parse(POLICY.replace("max_uses = 2", "allow_embedded = true"))
    setup = make(choices=None, policy=policy)
    decision = await setup.engine.decide(
        request(chain=("https://news.test", "https://bank.test"))
    )
    assert decision.outcome is Outcome.GRANTED


async def test_policy_needs_exactly_one_item(make: Make) -> None:
    """Two matching items and no `items` key: the rule does not pick one."""
    twin = Item(
        id="twin",
        title="Bank 2",
        username="carol",
        password=Secret("x"),
        urls=("https://bank.test",),
    )
    policy = Policy.parse(POLICY)
    setup = make(
        choices=None,
        policy=policy,
        access=VaultAccess.unlocked(MemoryVault([BANK, twin])),
    )
    assert (await setup.engine.decide(request())).outcome is Outcome.DECLINED
    narrowed = Policy.parse(POLICY + 'items = ["twin"]\n')
    setup = make(
        choices=None,
        policy=narrowed,
        access=VaultAccess.unlocked(MemoryVault([BANK, twin])),
    )
    decision = await setup.engine.decide(request())
    assert decision.item_id == "twin"


async def test_policy_count_that_cannot_be_saved_does_not_grant(
    make: Make, tmp_path: Path
) -> None:
    """A rule whose use cannot be recorded does not grant."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    uses = UseCounts(blocker / "uses.json")  # its directory is a file
    policy = Policy.parse(POLICY, uses=uses)
    setup = make(choices=None, policy=policy)
    decision = await setup.engine.decide(request())
    assert decision.outcome is Outcome.DECLINED


# --- audit and secrets -------------------------------------------------------------


async def test_audit_failure_withholds_the_grant(make: Make, tmp_path: Path) -> None:
    """If the record cannot be written, nothing is granted."""
    setup = make(choices=(1,))
    setup.audit_path.mkdir()  # appending to a directory fails
    decision = await setup.engine.decide(request())
    assert decision.outcome is Outcome.DECLINED
    assert not decision.values


async def test_no_secret_reaches_logs_audit_or_reprs(
    make: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    """Grants, declines and limits leave no secret in logs, audit, output or reprs."""
    setup = make(choices=(1, None, 1, None), max_per_origin=4)
    texts = []
    with structlog.testing.capture_logs() as logs:
        for req in (
            request(fields=("username", "password")),
            request("https://evil.test"),
            request(fields=("one_time_code",), form="one_time_code_step"),
            request("https://mail.test"),
            request(),
            request(),
        ):
            decision = await setup.engine.decide(req)
            texts += [repr(decision), str(decision), repr(decision.reply())]
            texts += [repr(q) for q in setup.prompt.questions]
    texts.append(repr(logs))
    texts.append(setup.audit_path.read_text())
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    code = totp(decode_seed(TOTP_SEED), NOW)
    for text in texts:
        for secret in (*ALL_SECRETS, code):
            assert secret not in text
    assert any(entry["event"] == "approval.decided" for entry in logs)


async def test_audit_records_where_why_and_who(make: Make) -> None:
    """A record holds the origins, frame chain, reason, agent and request id."""
    setup = make(choices=(1,))
    req = request(
        "https://bank.test",
        chain=("https://portal.test", "https://bank.test"),
        reason="pay the invoice",
    )
    await setup.engine.decide(req)
    (record,) = setup.records()
    assert record["origin"] == "https://bank.test"
    assert record["top_origin"] == "https://portal.test"
    assert record["frame_chain"] == ["https://portal.test", "https://bank.test"]
    assert record["reason"] == "pay the invoice"
    assert record["agent"] == {"name": "report-bot", "fingerprint": "ab12 cd34 ef56"}
    assert record["request_id"] == req.request_id
    assert record["form_kind"] == "login"


async def test_engine_declines_when_the_audit_log_cannot_even_open(
    tmp_path: Path,
) -> None:
    """A grant whose audit record cannot be written becomes a decline, no values."""
    audit = AuditLog(tmp_path / "missing-dir-is-a-file" / "audit.jsonl")
    (tmp_path / "missing-dir-is-a-file").write_text("")
    prompt = ScriptedPrompt(choices=(1,))
    engine = DecisionEngine(
        vault=VaultAccess.unlocked(MemoryVault([BANK])),
        audit=audit,
        prompt=prompt,
    )
    decision = await engine.decide(request())
    assert len(prompt.questions) == 1  # the person did say yes
    assert decision.outcome is Outcome.DECLINED
    assert decision.detail == "audit failed"
    assert not decision.values
    assert decision.item_id is None
    with pytest.raises(StorageError):
        audit.append(
            AuditEntry(
                request_id="x",
                agent_name="a",
                agent_fingerprint="f",
                origin="o",
                top_origin="o",
                frame_chain=("o",),
                form_kind="login",
                fields=("password",),
                reason="",
                decision="declined",
                decided_by="person",
            )
        )


async def test_engine_over_a_keepass_database(
    make: Make, kdbx_file: tuple[Path, Path]
) -> None:
    """A locked KeePass database (password and key file) unlocks and serves items."""
    from .conftest import KDBX_PASSWORD

    path, key_file = kdbx_file
    access = VaultAccess.for_path(path, key_file=key_file)
    setup = make(choices=(1,), passwords=(KDBX_PASSWORD,), access=access)
    decision = await setup.engine.decide(request("https://second.bank.test"))
    assert decision.outcome is Outcome.GRANTED
    assert decision.values[FieldRole.PASSWORD].reveal() == BANK_PASSWORD
    assert setup.prompt.questions[0].candidates[0].title == "Bank"


def test_request_build_checks_kinds_and_roles() -> None:
    """Requests are built from the channel's strings; unknown ones are refused."""
    from blindfill.errors import InvalidInputError

    built = ApprovalRequest.build(
        request_id="r",
        agent=AGENT,
        frame_origin="https://bank.test",
        top_origin="https://portal.test",
        form_kind="password_step",
        fields=["password"],
    )
    assert built.frame_chain == ("https://portal.test", "https://bank.test")
    with pytest.raises(InvalidInputError):
        ApprovalRequest.build(
            request_id="r",
            agent=AGENT,
            frame_origin="https://bank.test",
            top_origin="https://bank.test",
            form_kind="signup",
            fields=["password"],
        )
    with pytest.raises(InvalidInputError):
        ApprovalRequest.build(
            request_id="r",
            agent=AGENT,
            frame_origin="https://bank.test",
            top_origin="https://bank.test",
            form_kind="login",
            fields=["password", "password"],
        )
