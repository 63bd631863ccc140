// The core flow, typed end to end: create a team, add a member, put a plan, read attainment.
// `tsc --strict` compiles this in `make test`, so a breaking API change fails the build here.
import { type AttainClients, type PerformanceComponents, createAttainClients, gatewayUrls } from "./index.js";

/** Problems are RFC 9457 documents: every error status carries one (see the OpenAPI). */
function fail(step: string, problem: { title: string; status: number; detail?: string | null }): never {
  throw new Error(`${step}: ${problem.status} ${problem.title}${problem.detail ? ` (${problem.detail})` : ""}`);
}

export async function coreFlow(api: AttainClients, managerId: string): Promise<string[]> {
  const team = await api.goals.POST("/v1/teams", {
    body: { name: "EMEA Enterprise", currency: "EUR", manager_id: managerId },
  });
  if (team.error) fail("create team", team.error);

  const member = await api.goals.POST("/v1/teams/{team_id}/members", {
    params: { path: { team_id: team.data.id } },
    body: { name: "Ada Lovelace", email: "ada@example.com", capacity: "1.0", ramp: "1" },
  });
  if (member.error) fail("add member", member.error);

  const period = await api.goals.POST("/v1/periods", {
    body: { name: "2027-Q1", starts_on: "2027-01-01", ends_on: "2027-03-31", timezone: "Europe/Berlin" },
  });
  if (period.error) fail("create period", period.error);

  // Money is a decimal string on the wire, never a JS number (no float rounding).
  const plan = await api.goals.PUT("/v1/teams/{team_id}/plans/{period_id}", {
    params: { path: { team_id: team.data.id, period_id: period.data.id } },
    body: { target: "250000.00" },
  });
  if (plan.error) fail("put plan", plan.error);

  const attainment = await api.performance.GET("/v1/teams/{team_id}/periods/{period_id}/attainment", {
    params: { path: { team_id: team.data.id, period_id: period.data.id } },
  });
  if (attainment.error) fail("attainment", attainment.error);
  return attainment.data.items.map((row) => `${row.member_id}: ${row.percent}% of ${row.target} ${attainment.data.currency}`);
}

// Behind `docker compose up`: one origin, the gateway routes /goals/, /performance/, /feedback/.
export const compose = createAttainClients(gatewayUrls("http://localhost:8080"), () => "<a JWT>");

type PaceStatus = PerformanceComponents["schemas"]["AttainmentRead"]["status"];

/** Every pace status, exhaustively: a status added to the API fails to compile until handled. */
export function describeStatus(status: PaceStatus): string {
  switch (status) {
    case "on_track":
      return "on track";
    case "at_risk":
      return "at risk";
    case "struggling":
      return "struggling";
    case "no_target":
      return "no target"; // a zero target and nothing sold: never shown as on track
    default: {
      const unhandled: never = status;
      return unhandled;
    }
  }
}

/** A rep takes part of the uplift offered to them in an offer round (policy mode `offer`). */
export async function volunteer(
  api: AttainClients,
  rebalanceId: string,
  memberId: string,
  amount: string,
): Promise<string> {
  const round = await api.goals.GET("/v1/rebalances/{rebalance_id}", {
    params: { path: { rebalance_id: rebalanceId } },
  });
  if (round.error) fail("read offer round", round.error);
  const mine = round.data.offers?.find((offer) => offer.member_id === memberId);
  if (!mine || round.data.status !== "offered") return "no open offer";
  // At most `mine.offered`; more is a 422 problem, an answer after `expires_at` a 409.
  const answer = await api.goals.POST("/v1/rebalances/{rebalance_id}/offers/{member_id}/acceptance", {
    params: { path: { rebalance_id: rebalanceId, member_id: memberId } },
    body: { amount },
  });
  if (answer.error) fail("accept offer", answer.error);
  return `${answer.data.status}: accepted ${amount} of ${mine.offered} until ${round.data.expires_at}`;
}
