"""Tests of the BI projects under bi/."""
