import { defineEntity, error, ok } from 'pachyderm';
import { given } from 'pachyderm/testing';

// A state whose shape changes is a union that `init` alone cannot show: declare it there, once.
type Basket = { status: 'open'; items: string[] } | { status: 'checkedOut'; items: string[]; at: string };

const Checkout = defineEntity({
  type: 'Checkout',
  init: (): Basket => ({ status: 'open', items: [] }),
  handle(message: { type: 'Add'; item: string } | { type: 'CheckOut'; at: string }, state) {
    if (state.status === 'checkedOut') return error('already checked out');
    if (message.type === 'Add') return ok([{ type: 'Added' as const, item: message.item }]);
    if (state.items.length === 0) return error('empty');
    return ok([{ type: 'CheckedOut' as const, at: message.at }]);
  },
  update(event, state) {
    if (event.type === 'Added') return { ...state, items: [...state.items, event.item] };
    return { status: 'checkedOut', items: state.items, at: event.at };
  },
});

given(Checkout).when({ type: 'CheckOut', at: '2026-12-02' }).thenError('empty');
given(Checkout, [{ type: 'Added', item: 'book' }])
  .when({ type: 'CheckOut', at: '2026-12-02' })
  .thenState({ status: 'checkedOut', items: ['book'], at: '2026-12-02' });
console.log('the checkout specification holds');
