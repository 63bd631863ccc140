// Typed clients for the three Attain services; the types are generated (src/*.d.ts), this is not.
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { paths as FeedbackPaths } from "./feedback.js";
import type { paths as GoalsPaths } from "./goals.js";
import type { paths as PerformancePaths } from "./performance.js";

export type { FeedbackPaths, GoalsPaths, PerformancePaths };
export type { components as GoalsComponents } from "./goals.js";
export type { components as PerformanceComponents } from "./performance.js";
export type { components as FeedbackComponents } from "./feedback.js";

/** Where each service answers: its own port (`make run`) or a prefix of one gateway (compose). */
export interface ServiceUrls {
  goals: string;
  performance: string;
  feedback: string;
}

/** Behind the compose gateway (nginx on :8080): one origin, one path prefix per service. */
export function gatewayUrls(origin: string): ServiceUrls {
  const base = origin.replace(/\/+$/, "");
  return {
    goals: `${base}/goals`,
    performance: `${base}/performance`,
    feedback: `${base}/feedback`,
  };
}

/** `make run` on one machine: goals, performance and feedback on consecutive ports. */
export function localUrls(host = "http://localhost", firstPort = 8001): ServiceUrls {
  return {
    goals: `${host}:${firstPort}`,
    performance: `${host}:${firstPort + 1}`,
    feedback: `${host}:${firstPort + 2}`,
  };
}

export interface AttainClients {
  goals: Client<GoalsPaths>;
  performance: Client<PerformancePaths>;
  feedback: Client<FeedbackPaths>;
}

/** One client per service, each sending the bearer token `token()` returns at request time. */
export function createAttainClients(
  urls: ServiceUrls,
  token: () => string | Promise<string>,
): AttainClients {
  // A middleware rather than a fixed header, so a refreshed token is used without new clients.
  const auth: Middleware = {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await token()}`);
      return request;
    },
  };
  const goals = createClient<GoalsPaths>({ baseUrl: urls.goals });
  const performance = createClient<PerformancePaths>({ baseUrl: urls.performance });
  const feedback = createClient<FeedbackPaths>({ baseUrl: urls.feedback });
  goals.use(auth);
  performance.use(auth);
  feedback.use(auth);
  return { goals, performance, feedback };
}
