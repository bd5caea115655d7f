/**
 * Every error code the API answers with, its HTTP status and default message.
 * The README's error table lists the same codes (a test keeps them in step).
 */
export const ERRORS = {
  bad_request: { status: 400, message: 'The request is not valid.' },
  invalid_json: { status: 400, message: 'The body is not valid JSON.' },
  missing_variables: { status: 400, message: 'The template needs variables the request did not give.' },
  unknown_variables: { status: 400, message: 'The request gives variables the template does not use.' },
  invalid_template: { status: 400, message: 'The template is not valid.' },
  generation_unrecoverable: { status: 400, message: 'The generation failed in a way that sending the same request again cannot fix; its job holds the error.' },
  provider_unavailable: { status: 400, message: 'That provider is not configured on this server.' },
  unknown_model: { status: 400, message: 'No price is known for that model.' },
  webhook_url_forbidden: { status: 400, message: 'The webhook URL is not allowed: it must be http(s) and resolve to a public address.' },
  webhook_secret_required: { status: 400, message: 'This key has no webhook signing secret yet: POST /v1/api-keys/:id/webhook-secret.' },
  webhook_disabled: { status: 400, message: 'This webhook URL answered 410 Gone and is disabled for this key; rotate the key\'s webhook secret to enable it again.' },
  unauthorized: { status: 401, message: 'A valid API key is required: Authorization: Bearer <key>.' },
  forbidden: { status: 403, message: 'This route needs the admin key.' },
  project_admin_required: { status: 403, message: 'This route needs a key with the role admin of its project (or the admin key).' },
  budget_exceeded: { status: 402, message: 'A budget this request falls under cannot hold its worst-case cost.' },
  model_not_allowed: { status: 403, message: 'This key may not use that model.' },
  not_found: { status: 404, message: 'No such route.' },
  template_not_found: { status: 404, message: 'No such template.' },
  template_version_not_found: { status: 404, message: 'No such version of that template.' },
  api_key_not_found: { status: 404, message: 'No such API key.' },
  project_not_found: { status: 404, message: 'No such project.' },
  job_not_found: { status: 404, message: 'No such job.' },
  batch_not_found: { status: 404, message: 'No such batch.' },
  dead_letter_not_found: { status: 404, message: 'No such dead-lettered job.' },
  replay_conflict: { status: 409, message: 'An identical generation is already in flight.' },
  job_not_cancelable: { status: 409, message: 'The job has already completed or died.' },
  idempotency_key_in_progress: { status: 409, message: 'A request with this Idempotency-Key is still being admitted.' },
  payload_too_large: { status: 413, message: 'The body is larger than this route accepts (1 MiB; 32 MiB for POST /v1/batches).' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was used with a different payload.' },
  rate_limited: { status: 429, message: 'Too many requests. Please try again later.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
  generation_failed: { status: 502, message: 'The generation failed in a way a retry may fix (the provider was unavailable); its job holds the error.' },
  service_unavailable: { status: 503, message: 'A backing service is unavailable.' },
  rate_limiter_unavailable: { status: 503, message: 'The rate limiter cannot reach Redis; try again shortly.' },
  generation_timeout: { status: 504, message: 'The generation did not finish in time; it goes on as a job.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
