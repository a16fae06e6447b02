import { useState } from 'preact/hooks';
import { type App, api, type Page } from '../api';
import {
  Button,
  Card,
  ErrorMessage,
  Field,
  fieldError,
  formatTime,
  PageTitle,
  Select,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui';

interface Template {
  template_id: string;
  app_id: string;
  name: string;
  body: string;
  use_case: string;
  variables: string[];
  status: string;
  rejection_reason: string | null;
  created_at: string;
}

export function TemplatesPage() {
  const apps = useLoad(() => api.get<{ items: App[] }>('/apps'));
  const list = useLoad(() => api.get<Page<Template>>('/templates?limit=100'));
  const [appId, setAppId] = useState('');
  const [name, setName] = useState('');
  const [body, setBody] = useState('');
  const [useCase, setUseCase] = useState('');
  const submit = useAction(async () => {
    await api.post('/templates', { app_id: appId || apps.data?.items[0]?.id, name, body, use_case: useCase });
    setName('');
    setBody('');
    setUseCase('');
    list.reload();
  });
  const remove = useAction(async (t: Template) => {
    if (!confirm(`Delete the template “${t.name}”? It can no longer be sent.`)) return;
    await api.del(`/templates/${t.template_id}`);
    list.reload();
  });
  const active = list.data?.items.filter((t) => t.status !== 'deleted') ?? [];
  return (
    <>
      <PageTitle sub="Transactional SMS (order shipped, payment received…) from approved templates; an operator reviews each.">
        Templates
      </PageTitle>
      <Card title="Your templates" id="templates">
        <ErrorMessage error={list.error ?? remove.error} />
        {active.length === 0 && <p class="muted">No templates yet.</p>}
        {active.map((t) => (
          <article class="mail" key={t.template_id}>
            <h3>
              {t.name} <StatusBadge status={t.status} />
            </h3>
            <pre>{t.body}</pre>
            <p class="muted small">
              <code>{t.template_id}</code> · {t.use_case} · {formatTime(t.created_at)}
              {t.rejection_reason ? ` · rejected: ${t.rejection_reason}` : ''}
            </p>
            <Button
              kind="danger"
              class="btn-small"
              onClick={() => remove.run(t)}
              aria-label={`Delete ${t.name}`}
            >
              Delete
            </Button>
          </article>
        ))}
      </Card>
      <Card title="Submit a template" id="submit-template">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit.run();
          }}
        >
          <ErrorMessage error={submit.error} />
          {(apps.data?.items.length ?? 0) > 1 && (
            <Select
              label="Submitted through the app"
              value={appId}
              onValue={setAppId}
              options={(apps.data?.items ?? []).map((a) => ({ value: a.id, label: a.name }))}
            />
          )}
          <Field
            label="Name"
            value={name}
            onValue={setName}
            maxLength={100}
            required
            error={fieldError(submit.error, 'name')}
          />
          <div class="field">
            <label for="template-body">Text</label>
            <textarea
              id="template-body"
              rows={3}
              maxLength={1000}
              required
              value={body}
              aria-describedby="template-body-hint"
              onInput={(e) => setBody((e.currentTarget as HTMLTextAreaElement).value)}
            />
            <p class="hint" id="template-body-hint">
              Up to 1,000 characters with <code>{'{{variable}}'}</code> placeholders. No links.
            </p>
            {fieldError(submit.error, 'body') && (
              <p class="field-error">{fieldError(submit.error, 'body')}</p>
            )}
          </div>
          <Field
            label="Use case"
            value={useCase}
            onValue={setUseCase}
            maxLength={500}
            placeholder="Shipping notices after checkout"
            required
          />
          <Button type="submit" busy={submit.busy} disabled={!apps.data?.items.length}>
            Submit for review
          </Button>
        </form>
      </Card>
    </>
  );
}
