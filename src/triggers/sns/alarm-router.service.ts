import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app.config';
import { resolveValue, UnresolvedExpression } from '../../runbooks/expressions';
import { RunbookCatalog } from '../../runbooks/runbook-catalog.service';
import type { AlarmTrigger } from '../../model/runbook.types';
import type { AlarmEvent } from './alarm-event';

export interface AlarmRoute {
  runbookId: string;
  /** Position of the matching trigger in the runbook's `triggers` list. */
  trigger: number;
  /** The trigger's parameters with `${{ alarm.* }}` resolved; unset expressions leave their key out. */
  parameters: Record<string, unknown>;
}

interface CompiledTrigger {
  runbookId: string;
  index: number;
  def: AlarmTrigger;
  name: RegExp | null;
  dimensions: Array<[string, RegExp]>;
}

/**
 * Which runbooks an alarm starts, and with what parameters. Built from the catalog loaded at boot:
 * the accepted topics are those the triggers name plus the configured ones.
 */
@Injectable()
export class AlarmRouter {
  private compiled: CompiledTrigger[] | null = null;
  private topics: Set<string> | null = null;

  constructor(
    private readonly catalog: RunbookCatalog,
    private readonly config: AppConfig,
  ) {}

  acceptsTopic(topicArn: string): boolean {
    if (!this.topics) {
      this.topics = new Set(this.config.sns.topics);
      for (const t of this.triggers()) if (t.def.topicArn) this.topics.add(t.def.topicArn);
    }
    return this.topics.has(topicArn);
  }

  /**
   * Whether some trigger could match this alarm once its dimensions are known: the message's own
   * dimensions are not evidence (CloudWatch's are), so they cannot rule an alarm out before it is checked.
   */
  mayRoute(alarm: AlarmEvent, topicArn: string): boolean {
    return this.triggers().some((t) => this.matchesBesidesDimensions(t, alarm, topicArn));
  }

  route(alarm: AlarmEvent, topicArn: string, scope: Record<string, unknown>): AlarmRoute[] {
    const out: AlarmRoute[] = [];
    for (const t of this.triggers()) {
      if (!this.matchesBesidesDimensions(t, alarm, topicArn)) continue;
      if (!t.dimensions.every(([k, re]) => k in alarm.dimensions && re.test(alarm.dimensions[k]))) continue;
      let parameters: Record<string, unknown>;
      try {
        parameters = resolveValue(t.def.parameters ?? {}, { alarm: scope }) as Record<string, unknown>;
      } catch (err) {
        // An expression inside longer text with nothing to fill it: the runbook's parameter check says what is missing.
        if (!(err instanceof UnresolvedExpression)) throw err;
        parameters = {};
      }
      out.push({ runbookId: t.runbookId, trigger: t.index, parameters });
    }
    return out;
  }

  private matchesBesidesDimensions(t: CompiledTrigger, alarm: AlarmEvent, topicArn: string): boolean {
    if (t.def.topicArn && t.def.topicArn !== topicArn) return false;
    if (alarm.state !== (t.def.state ?? 'ALARM')) return false;
    return !t.name || t.name.test(alarm.name);
  }

  private triggers(): CompiledTrigger[] {
    if (!this.compiled) {
      this.compiled = [];
      for (const loaded of this.catalog.list()) {
        loaded.definition.triggers.forEach((t, index) => {
          if (!('alarm' in t)) return;
          const def = t.alarm ?? {};
          this.compiled!.push({
            runbookId: loaded.definition.id,
            index,
            def,
            // The loader has compiled these once already: a bad pattern stops boot, not a webhook call.
            name: def.alarmName ? new RegExp(def.alarmName) : null,
            dimensions: Object.entries(def.dimensions ?? {}).map(([k, p]) => [k, new RegExp(p)]),
          });
        });
      }
    }
    return this.compiled;
  }
}
