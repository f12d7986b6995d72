"""The example policies plus one grant to a workload, for the mutual-TLS tests."""

from __future__ import annotations

from tests.policy._org import EXAMPLES
from zerogate.policy import Bundle, CompiledBundle, compile_bundle

BILLING = "spiffe://example.test/ns/prod/sa/billing"
WORKLOAD_POLICY = f"""
// The billing service may read the ledger API; no other workload may.
@id("billing-reads-ledger")
@reason("only the billing service reads the ledger")
permit (
  principal == Workload::"{BILLING}",
  action == Action::"GET",
  resource == Route::"ledger-api"
);
"""


def bundle_with_workload_policy() -> CompiledBundle:
    files = dict(Bundle.from_dir(EXAMPLES).files)
    files["workloads.cedar"] = WORKLOAD_POLICY
    return compile_bundle(Bundle(files))
