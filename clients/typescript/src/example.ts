// The core flow, typed end to end: create a team, add a member, put a plan, read attainment.
// `tsc --strict` compiles this in `make test`, so a breaking API change fails the build here.
import { type AttainClients, createAttainClients, gatewayUrls } from "./index.js";

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
