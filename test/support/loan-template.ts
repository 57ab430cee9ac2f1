/**
 * A loan-disbursement body template and event data for tests of stored requests: JSON with
 * static keys and indentation around about ten values, one of them optional.
 */
export const LOAN_BODY_TEMPLATE = `{
  "eventId": {{ event.id | json }},
  "notificationId": {{ notification.id | json }},
  "loan": {
    "id": {{ data.loanId | json }},
    "amount": {{ data.amount | json }},
    "currency": {{ data.currency | default: "EUR" | json }},
    "productName": {{ data.productName | json }},
    "disbursedOn": {{ data.disbursedOn | json }}
  },
  "customer": {
    "id": {{ data.customerId | json }},
    "name": {{ data.name | json }},
    "email": {{ data.email | json }}
  }{% if data.note %},
  "note": {{ data.note | json }}{% endif %}
}`;

/** Event data for LOAN_BODY_TEMPLATE, different for each `n` (a note on even ones). */
export function loanData(n: number): Record<string, unknown> {
  return {
    loanId: `LN-2026-${100000 + n}`,
    amount: 25000 + n * 13.5,
    productName: 'Personal loan, 36 months, fixed rate',
    disbursedOn: '2026-12-01',
    customerId: `CUS-${String(n).padStart(8, '0')}`,
    name: `Client Number ${n}`,
    email: `client.${n}@example.com`,
    ...(n % 2 === 0 ? { note: 'early repayment allowed' } : {}),
  };
}
