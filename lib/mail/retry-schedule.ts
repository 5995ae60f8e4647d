/**
 * When a failed email is tried again. Pure arithmetic, free of `server-only`, so that it is unit-tested on
 * its own.
 *
 * The delay doubles from 30 seconds and stops growing at an hour: a mail server that was restarted is caught
 * within a minute, one that is down for a day is not hammered. Ten attempts span a little over three hours,
 * longer than a password-reset link lives and well inside the life of a verification link; after that a
 * person has to look (the delivery code logs an error), because retrying for days would only send stale links.
 */
export const maximumDeliveryAttempts = 10;

const firstRetryDelaySeconds = 30;
const longestRetryDelaySeconds = 60 * 60;

/** Seconds to wait before the next attempt, given how many attempts (including the failed one) were made. */
export function retryDelaySeconds(attemptsMade: number): number {
  const doublings = Math.max(0, Math.floor(attemptsMade) - 1);
  // Capping the exponent first keeps 2 ** doublings finite however large the count gets.
  return Math.min(firstRetryDelaySeconds * 2 ** Math.min(doublings, 20), longestRetryDelaySeconds);
}
