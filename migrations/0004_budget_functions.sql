/*
  budget_period_start(period, at): the first day (UTC) of the budget period ('day' | 'month') holding `at`.
*/
CREATE FUNCTION budget_period_start(p_period text, p_at timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$
  SELECT CASE p_period WHEN 'day' THEN (p_at AT TIME ZONE 'UTC')::date
                       ELSE date_trunc('month', p_at AT TIME ZONE 'UTC')::date END
$$;
--> statement-breakpoint
/*
  budget_apply: every change to what budgets have spent and hold reserved, for a batch of
  generations, atomically and in one order, whatever the number of processes.

  For each i, over the budgets of api key p_keys[i] and of template p_templates[i] (NULL: none):
    p_release[i]  USD (>= 0) released from the periods that held it: those of p_release_at[i];
    p_spend[i]    USD (>= 0) added to what the current periods have spent;
    p_reserve[i]  USD to reserve in the current periods, only if every budget still fits
                  (spent + reserved + p_reserve[i] <= usd); NULL: reserve nothing;
                  -1: the model has no price, refused wherever a budget applies.
  Every budget_usage row it touches is created if missing and locked in primary-key order
  first, so concurrent calls never deadlock and each row's check and reservation is atomic.

  Output: one row per i: held = whether p_reserve[i] is now reserved in at least one budget;
  refusal NULL (reserved, or nothing to reserve), or
  {scope, budgetUsd, spentUsd, reservedUsd, period, resetAt} of the first budget that does not
  fit ({..., unpriced: true} for -1). Rows with no budget at all answer NULL at the cost of one
  index probe.
*/
CREATE FUNCTION budget_apply(p_keys text[], p_templates text[], p_release numeric[], p_release_at timestamptz[],
                             p_spend numeric[], p_reserve numeric[])
RETURNS TABLE(idx int, refusal jsonb, held boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := now();
  v_n int := coalesce(array_length(p_keys, 1), 0);
  i int;
  b record;
BEGIN
  PERFORM 1 FROM budgets bg
    WHERE (bg.scope = 'api_key' AND bg.scope_id = ANY(p_keys)) OR (bg.scope = 'template' AND bg.scope_id = ANY(p_templates)) LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT g, NULL::jsonb, false FROM generate_series(1, v_n) AS g;
    RETURN;
  END IF;
  -- The (budget, period) rows this batch touches, current periods and those its releases came from:
  -- created if missing, then locked, both in primary-key order.
  INSERT INTO budget_usage (scope, scope_id, period, period_start)
    SELECT DISTINCT bg.scope, bg.scope_id, bg.period, budget_period_start(bg.period, w.at)
    FROM unnest(p_keys, p_templates, p_release_at) AS u(k, t, rat)
    JOIN budgets bg ON (bg.scope = 'api_key' AND bg.scope_id = u.k) OR (bg.scope = 'template' AND bg.scope_id = u.t)
    CROSS JOIN LATERAL (VALUES (v_now), (coalesce(u.rat, v_now))) AS w(at)
    ORDER BY 1, 2, 3, 4
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM budget_usage bu
    WHERE (bu.scope, bu.scope_id, bu.period, bu.period_start) IN (
      SELECT bg.scope, bg.scope_id, bg.period, budget_period_start(bg.period, w.at)
      FROM unnest(p_keys, p_templates, p_release_at) AS u(k, t, rat)
      JOIN budgets bg ON (bg.scope = 'api_key' AND bg.scope_id = u.k) OR (bg.scope = 'template' AND bg.scope_id = u.t)
      CROSS JOIN LATERAL (VALUES (v_now), (coalesce(u.rat, v_now))) AS w(at))
    ORDER BY bu.scope, bu.scope_id, bu.period, bu.period_start FOR UPDATE;

  FOR i IN 1 .. v_n LOOP
    IF coalesce(p_release[i], 0) > 0 THEN
      UPDATE budget_usage bu SET reserved_usd = greatest(0, bu.reserved_usd - p_release[i])
      FROM budgets bg
      WHERE bu.scope = bg.scope AND bu.scope_id = bg.scope_id AND bu.period = bg.period
        AND bu.period_start = budget_period_start(bg.period, coalesce(p_release_at[i], v_now))
        AND ((bg.scope = 'api_key' AND bg.scope_id = p_keys[i]) OR (bg.scope = 'template' AND bg.scope_id = p_templates[i]));
    END IF;
    IF coalesce(p_spend[i], 0) > 0 THEN
      UPDATE budget_usage bu SET spent_usd = bu.spent_usd + p_spend[i]
      FROM budgets bg
      WHERE bu.scope = bg.scope AND bu.scope_id = bg.scope_id AND bu.period = bg.period
        AND bu.period_start = budget_period_start(bg.period, v_now)
        AND ((bg.scope = 'api_key' AND bg.scope_id = p_keys[i]) OR (bg.scope = 'template' AND bg.scope_id = p_templates[i]));
    END IF;
    idx := i;
    refusal := NULL;
    held := false;
    IF p_reserve[i] IS NOT NULL THEN
      SELECT bg.scope, bg.usd, bu.spent_usd, bu.reserved_usd, bg.period, bu.period_start INTO b
      FROM budgets bg JOIN budget_usage bu
        ON bu.scope = bg.scope AND bu.scope_id = bg.scope_id AND bu.period = bg.period
       AND bu.period_start = budget_period_start(bg.period, v_now)
      WHERE ((bg.scope = 'api_key' AND bg.scope_id = p_keys[i]) OR (bg.scope = 'template' AND bg.scope_id = p_templates[i]))
        AND (p_reserve[i] < 0 OR bu.spent_usd + bu.reserved_usd + p_reserve[i] > bg.usd)
      ORDER BY bg.scope, bg.period
      LIMIT 1;
      IF FOUND THEN
        refusal := jsonb_build_object('scope', b.scope, 'budgetUsd', b.usd, 'spentUsd', b.spent_usd, 'reservedUsd', b.reserved_usd,
          'period', b.period, 'unpriced', p_reserve[i] < 0,
          'resetAt', (b.period_start + CASE b.period WHEN 'day' THEN interval '1 day' ELSE interval '1 month' END) AT TIME ZONE 'UTC');
      ELSIF p_reserve[i] > 0 THEN
        UPDATE budget_usage bu SET reserved_usd = bu.reserved_usd + p_reserve[i]
        FROM budgets bg
        WHERE bu.scope = bg.scope AND bu.scope_id = bg.scope_id AND bu.period = bg.period
          AND bu.period_start = budget_period_start(bg.period, v_now)
          AND ((bg.scope = 'api_key' AND bg.scope_id = p_keys[i]) OR (bg.scope = 'template' AND bg.scope_id = p_templates[i]));
        held := FOUND;
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
