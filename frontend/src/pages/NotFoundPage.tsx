import { Link } from 'react-router';
import { Card, EmptyState } from '../components/ui';

export function NotFoundPage() {
  return (
    <Card>
      <EmptyState title="Page not found">
        <Link to="/" className="font-medium text-indigo-600">Back to the overview</Link>
      </EmptyState>
    </Card>
  );
}
