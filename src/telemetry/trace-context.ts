/**
 * A span's context as a W3C `traceparent` string, and back: what an outbox row and a forwarded
 * call carry, so the work they lead to joins the trace in whatever process does it. Written here,
 * not through the application's propagator, so the trace crosses the outbox whichever it installed.
 */
import { type Context, isSpanContextValid, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span's `traceparent`, or undefined when it has no valid context (no SDK registered). */
export function traceparentOf(span: Span): string | undefined {
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A context whose parent is the span a `traceparent` names; the root context for anything else. */
export function contextOf(traceparent: string | undefined): Context {
  const parts = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (!parts) return ROOT_CONTEXT;
  const spanContext = {
    traceId: parts[1] as string,
    spanId: parts[2] as string,
    traceFlags: Number.parseInt(parts[3] as string, 16),
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}
