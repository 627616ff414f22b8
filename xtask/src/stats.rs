//! Median, p99 and max of a bench's samples.

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub count: usize,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// Nearest-rank percentiles; all zero for no samples.
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let rank =
            |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Self {
            count: values.len(),
            median: rank(0.5),
            p99: rank(0.99),
            max: values[values.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s = Summary::of((1..=100).map(f64::from));
        assert_eq!((s.median, s.p99, s.max, s.count), (50.0, 99.0, 100.0, 100));
        let s = Summary::of([3.0, 1.0, 2.0].into_iter());
        assert_eq!((s.median, s.p99, s.max), (2.0, 3.0, 3.0));
        assert_eq!(Summary::of(std::iter::empty()).count, 0);
    }
}
